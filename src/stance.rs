//! The label set of the annotation standard, shared by every stage.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A sentence's stance toward dialogue with the armed groups in Mali.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Stance {
    #[serde(rename = "pro-dialogue")]
    Pro,
    #[serde(rename = "anti-dialogue")]
    Anti,
    #[serde(rename = "neutral")]
    Neutral,
}

impl Stance {
    /// Every label, in the fixed order used for score vectors, tables and matrices.
    pub const ALL: [Stance; 3] = [Stance::Pro, Stance::Anti, Stance::Neutral];

    pub fn as_str(self) -> &'static str {
        match self {
            Stance::Pro => "pro-dialogue",
            Stance::Anti => "anti-dialogue",
            Stance::Neutral => "neutral",
        }
    }

    /// Position of the label in [`Stance::ALL`].
    pub fn index(self) -> usize {
        match self {
            Stance::Pro => 0,
            Stance::Anti => 1,
            Stance::Neutral => 2,
        }
    }
}

impl fmt::Display for Stance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Stance {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Stance::ALL
            .into_iter()
            .find(|l| l.as_str() == s)
            .ok_or_else(|| {
                format!("unknown stance {s:?} (expected pro-dialogue, anti-dialogue or neutral)")
            })
    }
}

/// Declares a closed label set whose JSON and text form is kebab-case.
macro_rules! label_set {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum $name {
            $(#[serde(rename = $text)] $variant),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $name::ALL.iter().copied().find(|v| v.as_str() == s).ok_or_else(|| {
                    let known: Vec<&str> = $name::ALL.iter().map(|v| v.as_str()).collect();
                    format!("unknown {} {s:?} (expected one of: {})", stringify!($name).to_lowercase(), known.join(", "))
                })
            }
        }
    };
}

label_set! {
    /// Who holds a stance (the annotation standard's holders).
    Holder {
        France => "france",
        Mali => "mali",
        Jihadists => "jihadists",
        Tuareg => "tuareg",
        MalianSociety => "malian-society",
        Analyst => "analyst",
        Author => "author",
        Other => "other",
    }
}

label_set! {
    /// With whom the dialogue is: the armed group party to it.
    Target {
        Jihadists => "jihadists",
        Tuareg => "tuareg",
        Unspecified => "unspecified",
    }
}

/// One holder's stance toward dialogue with one target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Claim {
    pub holder: Holder,
    pub stance: Stance,
    pub target: Target,
}

/// A claim as records carry it: the claim, and the name behind its holder
/// where attribution knows it ("Emmanuel Macron", "High Islamic Council").
/// Written `{holder, stance, target, speaker?}`: the standard's claim with
/// one optional field after it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpokenClaim {
    pub holder: Holder,
    pub stance: Stance,
    pub target: Target,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speaker: Option<String>,
}

impl SpokenClaim {
    pub fn new(claim: Claim, speaker: Option<String>) -> Self {
        SpokenClaim {
            holder: claim.holder,
            stance: claim.stance,
            target: claim.target,
            speaker,
        }
    }

    /// The claim without its speaker.
    pub fn claim(&self) -> Claim {
        Claim {
            holder: self.holder,
            stance: self.stance,
            target: self.target,
        }
    }
}

impl From<Claim> for SpokenClaim {
    fn from(claim: Claim) -> Self {
        SpokenClaim::new(claim, None)
    }
}

/// A probability for each label, in the order of [`Stance::ALL`]; sums to one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scores(pub [f32; 3]);

impl Scores {
    pub fn get(&self, stance: Stance) -> f32 {
        self.0[stance.index()]
    }

    /// The most probable label; ties go to the earlier label in [`Stance::ALL`]
    /// so that the choice never depends on anything but the numbers.
    pub fn argmax(&self) -> Stance {
        let mut best = 0;
        for i in 1..3 {
            if self.0[i] > self.0[best] {
                best = i;
            }
        }
        Stance::ALL[best]
    }
}

impl Serialize for Scores {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(3))?;
        for label in Stance::ALL {
            // Four decimals: enough for any decision, and stable bytes across runs.
            let rounded = (self.get(label) as f64 * 1e4).round() / 1e4;
            map.serialize_entry(label.as_str(), &rounded)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Scores {
    /// Reads the map `stance score` writes: one probability per label.
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let map = std::collections::BTreeMap::<Stance, f32>::deserialize(deserializer)?;
        let mut p = [0.0; 3];
        for label in Stance::ALL {
            p[label.index()] = *map
                .get(&label)
                .ok_or_else(|| serde::de::Error::custom(format!("scores lack {label}")))?;
        }
        Ok(Scores(p))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_round_trip_through_text_and_json() {
        for label in Stance::ALL {
            assert_eq!(label.as_str().parse::<Stance>().unwrap(), label);
            let json = serde_json::to_string(&label).unwrap();
            assert_eq!(json, format!("\"{}\"", label.as_str()));
            assert_eq!(Stance::ALL[label.index()], label);
        }
        assert!("pro".parse::<Stance>().is_err());
        for holder in Holder::ALL {
            assert_eq!(holder.as_str().parse::<Holder>().unwrap(), *holder);
        }
        assert_eq!(
            serde_json::to_string(&Holder::MalianSociety).unwrap(),
            "\"malian-society\""
        );
        let err = "paris".parse::<Holder>().unwrap_err();
        assert!(err.contains("france"), "{err}");
        assert!(serde_json::from_str::<Target>("\"rebels\"").is_err());
    }

    #[test]
    fn argmax_breaks_ties_by_label_order() {
        assert_eq!(Scores([0.2, 0.5, 0.3]).argmax(), Stance::Anti);
        assert_eq!(Scores([0.4, 0.4, 0.2]).argmax(), Stance::Pro);
        let back: Scores =
            serde_json::from_str(r#"{"neutral":0.2,"pro-dialogue":0.5,"anti-dialogue":0.3}"#)
                .unwrap();
        assert_eq!(back, Scores([0.5, 0.3, 0.2]));
        assert!(serde_json::from_str::<Scores>(r#"{"neutral":1.0}"#).is_err());
        let json = serde_json::to_string(&Scores([0.123456, 0.5, 0.376544])).unwrap();
        assert_eq!(
            json,
            r#"{"pro-dialogue":0.1235,"anti-dialogue":0.5,"neutral":0.3765}"#
        );
    }
}
