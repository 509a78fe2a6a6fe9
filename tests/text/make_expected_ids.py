#!/usr/bin/env python3
"""Expected token ids for tests/text/test_tokenizer.cpp, from the real Hugging Face
`tokenizers` library (and `transformers` for the demo model's GGUF).

Prints C++ tables that are pasted into the test as constants:

    python tests/text/make_expected_ids.py [demo.gguf] [wikitext2-test.raw] > /tmp/expected.inc

The tiny tokenizers are rebuilt here from the same rules the test uses to write its
tokenizer.json files (vocab layout, merges, added tokens, pre-tokenizer per variant), so
a change to either side must be made in both. The merges are learned once from CORPUS
with the HF trainer and printed so the test need not train.
"""

import json
import sys

from tokenizers import Tokenizer, models, pre_tokenizers, trainers

CORPUS = [
    "The quick brown fox jumps over the lazy dog. It's the dog's day, isn't it?",
    "We've been there; they'll see. I'd say you're right, and I'm sure.",
    "Numbers like 2024, 3.14159 and 1,000,000 appear in the text as well.",
    "Naïve café owners in São Paulo serve crème brûlée to the tourists.",
    "the then there these those other another brother mother weather",
    "in on at to of for with from into onto upon and but or nor",
]

BYTE_LEVEL_TEXTS = [
    "",
    "Hello world",
    "  many   spaces  ",
    "\n\n",
    "line one\r\nline two\r\n",
    "tabs\tand\t\tmore \t x",
    "I'm you're we've they'll he'd it's",
    "IT'S DON'T We'RE",
    "1234567 89 x2024y",
    "3.14159 and 1,000,000",
    "naïve café résumé",
    "中文字符和日本語",
    "emoji 🙂👍🏽 ok",
    "<|im_start|>user\nhi there<|im_end|>\n",
    "x<|endoftext|>y <|endoftext|> z",
    "  \n  x",
    "a  \n\n b\n",
    "¡Hola! ¿Qué tal?",
    "١٢٣ Ⅻ ½ ²",
    "a\u00a0b\u3000c \u2028d",
    "end with space ",
    "(parens) [brackets] {braces} --dashes-- ...",
]

SPM_TEXTS = [
    "",
    "Hello world",
    "  leading spaces",
    "trailing  ",
    "a\nb",
    "line\r\nnext",
    "naïve café",
    "中文",
    "🙂!",
    "<s>inside</s> text",
    " <s> x",
    "12345 don't",
]

BYTE_LEVEL_PRE_TOKENIZERS = {
    "gpt2": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
    "gpt2_prefix": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
    "llama3": {
        "type": "Sequence",
        "pretokenizers": [
            {
                "type": "Split",
                "pattern": {
                    "Regex": r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}"
                    r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
                },
                "behavior": "Isolated",
                "invert": False,
            },
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False},
        ],
    },
    "qwen2": {
        "type": "Sequence",
        "pretokenizers": [
            {
                "type": "Split",
                "pattern": {
                    "Regex": r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"
                    r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
                },
                "behavior": "Isolated",
                "invert": False,
            },
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False},
        ],
    },
    "smollm": {
        "type": "Sequence",
        "pretokenizers": [
            {"type": "Digits", "individual_digits": True},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
        ],
    },
}

SPM_VARIANTS = {
    "legacy": (
        {"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": "▁"},
                                             {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}]},
        None,
    ),
    "metaspace": (None, {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first", "split": False}),
}


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


def learned_merges(pre_tokenizer, vocab_size, alphabet):
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizer
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, initial_alphabet=alphabet, show_progress=False)
    tok.train_from_iterator(CORPUS, trainer)
    return [tuple(m) if isinstance(m, list) else tuple(m.split(" ")) for m in json.loads(tok.to_str())["model"]["merges"]]


def added(idx, content):
    return {"id": idx, "content": content, "single_word": False, "lstrip": False, "rstrip": False,
            "normalized": False, "special": True}


# Byte-level layout: ids 0..255 are the byte characters in byte order, then one id per
# merge in merge order, then the added tokens.
def byte_level_tokenizer(merges, variant):
    b2u = bytes_to_unicode()
    vocab = {b2u[b]: b for b in range(256)}
    for a, b in merges:
        vocab[a + b] = len(vocab)
    n = len(vocab)
    specials = [added(n, "<|endoftext|>"), added(n + 1, "<|im_start|>"), added(n + 2, "<|im_end|>")]
    spec = {"version": "1.0", "added_tokens": specials, "normalizer": None,
            "pre_tokenizer": BYTE_LEVEL_PRE_TOKENIZERS[variant],
            "post_processor": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True},
            "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
            "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                      "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False,
                      "ignore_merges": variant == "llama3", "vocab": vocab, "merges": [list(m) for m in merges]}}
    return Tokenizer.from_str(json.dumps(spec))


# SentencePiece layout: <unk> <s> </s>, the 256 <0xNN> byte tokens, the alphabet in code
# point order, then one id per merge.
def spm_tokenizer(merges, alphabet, variant):
    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2}
    for b in range(256):
        vocab["<0x%02X>" % b] = len(vocab)
    for c in alphabet:
        vocab[c] = len(vocab)
    for a, b in merges:
        vocab[a + b] = len(vocab)
    normalizer, pre = SPM_VARIANTS[variant]
    spec = {"version": "1.0", "added_tokens": [added(0, "<unk>"), added(1, "<s>"), added(2, "</s>")],
            "normalizer": normalizer, "pre_tokenizer": pre,
            "post_processor": {"type": "TemplateProcessing",
                               "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}},
                                          {"Sequence": {"id": "A", "type_id": 0}}],
                               "pair": [{"SpecialToken": {"id": "<s>", "type_id": 0}},
                                        {"Sequence": {"id": "A", "type_id": 0}},
                                        {"Sequence": {"id": "B", "type_id": 1}}],
                               "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}},
            "decoder": {"type": "Sequence", "decoders": [
                {"type": "Replace", "pattern": {"String": "▁"}, "content": " "},
                {"type": "ByteFallback"}, {"type": "Fuse"},
                {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
            "model": {"type": "BPE", "dropout": None, "unk_token": "<unk>", "continuing_subword_prefix": None,
                      "end_of_word_suffix": None, "fuse_unk": True, "byte_fallback": True, "ignore_merges": False,
                      "vocab": vocab, "merges": [a + " " + b for a, b in merges]}}
    return Tokenizer.from_str(json.dumps(spec))


def cpp_str(s):
    out = []
    for ch in s:
        out.append({"\n": "\\n", "\r": "\\r", "\t": "\\t", '"': '\\"', "\\": "\\\\"}.get(ch, ch))
    return '"' + "".join(out) + '"'


def cpp_ids(ids):
    return "{" + ", ".join(map(str, ids)) + "}"


def print_merges(name, merges):
    print(f"const std::vector<std::pair<std::string, std::string>> {name} = {{")
    for a, b in merges:
        print(f"    {{{cpp_str(a)}, {cpp_str(b)}}},")
    print("};")


def tiny_tables():
    bl_merges = learned_merges(pre_tokenizers.ByteLevel(add_prefix_space=False), 256 + 160,
                               pre_tokenizers.ByteLevel.alphabet())
    print_merges("kByteLevelMerges", bl_merges)
    print("const std::vector<EncodeCase> kByteLevelCases = {")
    for variant in BYTE_LEVEL_PRE_TOKENIZERS:
        tok = byte_level_tokenizer(bl_merges, variant)
        for text in BYTE_LEVEL_TEXTS:
            ids = tok.encode(text, add_special_tokens=False).ids
            decoded = tok.decode(ids, skip_special_tokens=False)
            print(f"    {{{cpp_str(variant)}, {cpp_str(text)}, {cpp_ids(ids)}, {cpp_str(decoded)}}},")
    print("};")

    spm_corpus = [line.replace(" ", "▁") for line in CORPUS]
    alphabet = sorted(set("".join(spm_corpus)) - set("ïéãèûçí"))  # leave some to byte fallback
    spm_merges = learned_merges(pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True),
                                3 + 256 + len(alphabet) + 120, alphabet)
    spm_merges = [m for m in spm_merges if all(c in alphabet for c in m[0] + m[1])]
    SPM_PARTS.update(alphabet=alphabet, merges=spm_merges)
    print(f"const std::string kSpmAlphabet = {cpp_str(''.join(alphabet))};")
    print_merges("kSpmMerges", spm_merges)
    print("const std::vector<EncodeCase> kSpmCases = {")
    for variant in SPM_VARIANTS:
        tok = spm_tokenizer(spm_merges, alphabet, variant)
        for text in SPM_TEXTS:
            ids = tok.encode(text, add_special_tokens=False).ids
            decoded = tok.decode(ids, skip_special_tokens=False)
            print(f"    {{{cpp_str(variant)}, {cpp_str(text)}, {cpp_ids(ids)}, {cpp_str(decoded)}}},")
    print("};")


SPM_PARTS = {}


def check_spm_gguf(path):
    """The same SentencePiece vocabulary as a GGUF with scores (-merge index) and no
    merges, read by transformers, gives the "metaspace" ids: the test reuses them."""
    import gguf
    from transformers.integrations.gguf.gguf_tokenizer_mapping import convert_gguf_tokenizer, get_gguf_tokenizer

    alphabet, merges = SPM_PARTS["alphabet"], SPM_PARTS["merges"]
    tokens = ["<unk>", "<s>", "</s>"] + ["<0x%02X>" % b for b in range(256)] + alphabet + [a + b for a, b in merges]
    w = gguf.GGUFWriter(path, "llama")
    w.add_tokenizer_model("llama")
    w.add_token_list(tokens)
    w.add_token_scores([0.0] * (len(tokens) - len(merges)) + [-float(i) for i in range(len(merges))])
    w.add_token_types([2, 3, 3] + [6] * 256 + [1] * (len(tokens) - 259))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    tok, _ = convert_gguf_tokenizer(*get_gguf_tokenizer(path)[:2])
    ref = spm_tokenizer(merges, alphabet, "metaspace")
    for text in SPM_TEXTS:
        assert tok.encode(text, add_special_tokens=False).ids == ref.encode(text, add_special_tokens=False).ids, text
    print("// checked: a GGUF of the SentencePiece vocabulary with scores gives the \"metaspace\" ids")


DEMO_TEXTS = [
    "Hello, world!",
    "The year 2024 had 366 days.",
    "<|im_start|>user\nWhat is 12*34?<|im_end|>\n<|im_start|>assistant\n",
    "  Indented code:\n\tif (x) { return y; }\r\n",
    "Ünïcödé, 中文, and emoji 🙂.",
]

WIKITEXT_PREFIX_BYTES = 2000


def demo_tables(gguf_path, wikitext_path):
    import os

    from tokenizers import pre_tokenizers as pt
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(os.path.dirname(gguf_path), gguf_file=os.path.basename(gguf_path))
    backend = tok.backend_tokenizer
    # transformers maps tokenizer.ggml.pre = "smollm" to nothing and keeps GPT-2's plain ByteLevel
    # pre-tokenizer; SmolLM2's own tokenizer.json splits digits first. Use the real one.
    smollm = pt.Sequence([pt.Digits(individual_digits=True),
                          pt.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=True)])
    if backend.pre_tokenizer.__getstate__() != smollm.__getstate__():
        print("// transformers' GGUF pre-tokenizer differs from SmolLM2's tokenizer.json "
              f"({json.loads(backend.pre_tokenizer.__getstate__())['type']}); replaced by Digits+ByteLevel")
        backend.pre_tokenizer = smollm
    print("const std::vector<EncodeCase> kDemoCases = {")
    for text in DEMO_TEXTS:
        ids = backend.encode(text, add_special_tokens=False).ids
        print(f"    {{\"smollm\", {cpp_str(text)}, {cpp_ids(ids)}, {cpp_str(text)}}},")
    print("};")
    with open(wikitext_path, "rb") as f:
        data = f.read()
    n = WIKITEXT_PREFIX_BYTES
    while data[n] & 0xC0 == 0x80:  # cut on a character boundary, as the test does
        n -= 1
    prefix = backend.encode(data[:n].decode("utf-8"), add_special_tokens=False).ids
    print(f"constexpr size_t kWikitextPrefixBytes = {WIKITEXT_PREFIX_BYTES};")
    print(f"const std::vector<int32_t> kWikitextPrefixIds = {cpp_ids(prefix)};")
    total = len(backend.encode(data.decode("utf-8"), add_special_tokens=False).ids)
    print(f"constexpr size_t kWikitextTokenCount = {total};")


if __name__ == "__main__":
    tiny_tables()
    if len(sys.argv) == 3:
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            check_spm_gguf(tmp + "/spm.gguf")
        demo_tables(sys.argv[1], sys.argv[2])
