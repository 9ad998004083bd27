//! Cue words: the small closed-class signals of stance that a topic-heavy
//! sentence embedding tends to wash out: negation, rejection and acceptance
//! verbs, scepticism and necessity, in English and French. Used by the
//! keyword floor and, as extra features, by the linear head. No cue names
//! an actor: stance must not be read off who speaks.

/// Words that name dialogue itself (matched lower-case, as substrings).
pub const DIALOGUE: &[&str] = &[
    "negotiat",
    "dialogue",
    "talks",
    "ceasefire",
    "cease-fire",
    "mediat",
    "political solution",
    "peace agreement",
    "peace deal",
    "reconcil",
    "emissar",
    "discussions",
    "négoci",
    "pourparlers",
    "cessez-le-feu",
    "médiat",
    "accord de paix",
];

/// Opposition to talks.
pub const REJECTION: &[&str] = &[
    "reject",
    "refus",
    "red line",
    "no dialogue",
    "no negotiation",
    "never negotiate",
    "will not negotiate",
    "won't negotiate",
    "oppose",
    "no compromise",
    "ruled out",
    "rule out",
    "not negotiate",
    "rejet",
    "ligne rouge",
    "exclu",
    "s'oppose",
];

/// Scepticism: talks as futile, dangerous or with an untrustworthy partner.
pub const SCEPTICISM: &[&str] = &[
    "skeptic",
    "sceptic",
    "futile",
    "dangerous",
    "danger",
    "risk",
    "embolden",
    "illusion",
    "naive",
    "naïve",
    "reward",
    "trap",
    "cannot be trusted",
    "non-starter",
    "doomed",
    "piège",
    "risque",
    "illusoire",
    "récompense",
];

/// Acceptance, openness and steps toward talks.
pub const ACCEPTANCE: &[&str] = &[
    "accept",
    "agreed",
    "agree to",
    "offer",
    "mandat",
    "welcome",
    "open to",
    "ready to",
    "willing",
    "pursue",
    "engage",
    "sent ",
    "support",
    "favour",
    "favor",
    "call for",
    "calls for",
    "urge",
    "prêt",
    "ouvert",
    "accepté",
    "propos",
    "soutien",
    "appel",
];

/// Arguments that talks are needed.
pub const NECESSITY: &[&str] = &[
    "necessary",
    "inevitable",
    "only way",
    "only solution",
    "alone",
    "political solution",
    "no military solution",
    "must talk",
    "should negotiate",
    "nécessaire",
    "inévitable",
    "seule voie",
    "solution politique",
    "seule",
];

/// Negation.
pub const NEGATION: &[&str] = &[
    " not ", "n't", " never", " no ", "neither", " nor ", "without", " ne ", " n'", "jamais",
    "aucun", "pas ",
];

/// Whether `lower` (a lower-cased text) contains any of `cues`.
pub fn any(lower: &str, cues: &[&str]) -> bool {
    cues.iter().any(|c| lower.contains(c))
}

/// Number of cue features.
pub const COUNT: usize = 9;

/// Binary cue features of a sentence, in a fixed order: dialogue,
/// rejection, scepticism, acceptance, necessity, negation, negation with
/// dialogue, question, quotation.
pub fn features(text: &str) -> [f32; COUNT] {
    // Pad with spaces so word-edge cues (" no ") match at the ends.
    let lower = format!(" {} ", text.to_lowercase());
    let dialogue = any(&lower, DIALOGUE);
    let negation = any(&lower, NEGATION);
    let flags = [
        dialogue,
        any(&lower, REJECTION),
        any(&lower, SCEPTICISM),
        any(&lower, ACCEPTANCE),
        any(&lower, NECESSITY),
        negation,
        negation && dialogue,
        text.contains('?'),
        text.contains(['“', '”', '"', '«', '»']),
    ];
    flags.map(|f| if f { 1.0 } else { 0.0 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cues_fire_on_their_words_in_both_languages() {
        let f = features("Paris rejected any negotiation.");
        assert_eq!(f[0], 1.0);
        assert_eq!(f[1], 1.0);
        assert_eq!(f[5], 0.0);
        let f = features("Le gouvernement n'exclut pas des pourparlers ?");
        assert_eq!((f[0], f[5], f[6], f[7]), (1.0, 1.0, 1.0, 1.0));
        assert_eq!(features("No dialogue."), features("no dialogue."));
        assert_eq!(
            features("Soldiers patrolled the town.").iter().sum::<f32>(),
            0.0
        );
    }
}
