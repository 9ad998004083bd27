"""The README's accuracy table from the reports eval-matrix.sh wrote (in argv[1])."""
import json, os, sys
names = {"gemma": "EmbeddingGemma-300M", "minilm": "all-MiniLM-L6-v2", "mpnet": "all-mpnet-base-v2"}
order = ["zero-shot", "linear", "linear+context", "linear+cues", "linear+context+cues", "setfit"]
def load(enc, extra):
    by = {}
    # SetFit's rows are reports of their own (ENC-setfit-EXTRA.json), merged in here.
    for q in (f"{sys.argv[1]}/{enc}-{extra}.json", f"{sys.argv[1]}/{enc}-setfit-{extra}.json"):
        if os.path.exists(q):
            for c in json.load(open(q))["classifiers"]:
                by.setdefault(c["classifier"], {})[c["language"]] = c
    return by or None
def cells(langs):
    en, fr = langs["en"], langs["fr"]
    f = lambda c: f"{c['macro_f1']:.3f} [{c['macro_f1_ci'][0]:.3f}, {c['macro_f1_ci'][1]:.3f}]"
    a = lambda c: f"{c['per_class']['anti-dialogue']['f1']:.3f}"
    return [f(en), f(fr), f"{(en['macro_f1']+fr['macro_f1'])/2:.3f}", a(en), a(fr)]
out = ["| encoder | classifier | `--train-extra` | macro-F1 en | macro-F1 fr | mean | anti F1 en | anti F1 fr |",
       "|---|---|---|---|---|---:|---:|---:|"]
# The floors do not depend on the encoder: take them from any report there.
first = next(r for r in (load(e, x) for e in names for x in ("news", "art")) if r and "keyword" in r)
for k in ["majority", "keyword"]:
    out.append("| (any) | " + k + " floor | | " + " | ".join(cells(first[k])) + " |")
for enc in ["gemma", "minilm", "mpnet"]:
    news, art = load(enc, "news"), load(enc, "art")
    if not news and not art: continue
    for cls in order:
        for extra, data in (("en-news", news), ("en-news + articles", art)):
            if not data or cls not in data: continue
            if cls == "zero-shot":
                if extra != "en-news": continue
                extra = ""
            name = "setfit (A, 200 steps)" if cls == "setfit" else cls
            row = [names[enc], name, extra] + cells(data[cls])
            bold = (enc == "gemma" and cls == "linear+context+cues" and extra == "en-news + articles")
            if bold:
                row = [f"**{x}**" if i < 6 else x for i, x in enumerate(row)]
                row[1] = "**linear+context+cues (shipped, the default)**"
            out.append("| " + " | ".join(row) + " |")
print("\n".join(out))
