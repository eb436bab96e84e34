from __future__ import annotations

import pytest

from codegym.nlp.inflect import inflect, match_case
from codegym.nlp.pos import TAGGER_NAMES, active_tagger, get_tagger, pos_tag, tag_text
from codegym.nlp.tokenize import tokenize

TEXTS = [
    "Write a function to find the minimum cost path to reach (m, n) from (0, 0) for the given cost matrix "
    "cost[][] and a position (m, n) in cost[][].",
    'Return the list nums_sorted using os.path.join and `sorted(x)`; don\'t use "abc" or x1, 3.14, -2.',
    "Check if the string's length is 10.\n\nIt's 'ok'; use camelCase or f(3) == 2 and 0x1F.",
    "",
    "   \n\t",
]


@pytest.mark.parametrize("text", TEXTS)
def test_tokenize_is_lossless(text):
    assert "".join(t.text for t in tokenize(text)) == text


def test_tokenize_keeps_code_tokens_whole():
    kinds = {t.text: t.kind for t in tokenize(TEXTS[1]) if t.kind != "space"}
    assert kinds["nums_sorted"] == "code"
    assert kinds["os.path.join"] == "code"
    assert kinds["`sorted(x)`"] == "string"
    assert kinds['"abc"'] == "string"
    assert kinds["x1"] == "code"
    assert kinds["3.14"] == "number"
    assert kinds["list"] == "word"
    assert kinds["don't"] == "word"
    costs = [t.kind for t in tokenize(TEXTS[0]) if t.text == "cost"]
    assert costs == ["word", "word", "code", "code"]  # "cost path", "cost matrix", then "cost[][]" twice
    assert {t.text: t.kind for t in tokenize(TEXTS[0])}["m"] == "code"  # a lone letter is a variable
    assert all(t.protected for t in tokenize("'ok' f(3) 0x1F camelCase") if t.kind not in ("space", "punct"))


def test_tokenize_rejects_non_strings():
    with pytest.raises(TypeError, match="str"):
        tokenize(None)  # type: ignore[arg-type]


def test_active_tagger_is_reported_and_forceable(monkeypatch):
    tagger = active_tagger()
    assert tagger.name in {"nltk-averaged-perceptron", "aptagger-averaged-perceptron", "wordnet-lexicon"}
    monkeypatch.setenv("CODEGYM_POS_TAGGER", "wordnet")
    assert active_tagger().name == "wordnet-lexicon"
    monkeypatch.setenv("CODEGYM_POS_TAGGER", "bogus")
    with pytest.raises(ValueError, match="bogus"):
        active_tagger()


def test_aptagger_is_available_here():
    # textblob-aptagger is part of codegym[nlp]; NLTK's own data cannot be downloaded offline.
    assert get_tagger("aptagger").name == "aptagger-averaged-perceptron"
    assert "aptagger" in TAGGER_NAMES


EXPECTED = [
    (
        "Write a function to check whether the given number is even .",
        {"Write": "VB", "function": "NN", "check": "VB", "given": "VBN", "number": "NN", "is": "VBZ"},
    ),
    (
        "The function sorts the numbers quickly and returns a new list .",
        {"sorts": "VBZ", "numbers": "NNS", "quickly": "RB", "returns": "VBZ", "new": "JJ", "list": "NN"},
    ),
    (
        "Find the second smallest number in a list of integers using Python .",
        {"Find": "VB", "smallest": "JJS", "integers": "NNS", "using": "VBG", "Python": "NNP"},
    ),
    (
        "Remove all characters which are present in the second string .",
        {"Remove": "VB", "characters": "NNS", "which": "WDT", "present": "JJ", "string": "NN"},
    ),
]


@pytest.mark.parametrize("name", ["aptagger", "wordnet"])
@pytest.mark.parametrize(("sentence", "expected"), EXPECTED)
def test_taggers_on_sample_sentences(name, sentence, expected):
    tags = dict(pos_tag(sentence.split(), get_tagger(name)))
    wrong = {w: (tags[w], t) for w, t in expected.items() if tags[w] != t}
    assert not wrong, f"{name}: (got, expected) {wrong}"


@pytest.mark.parametrize("name", ["aptagger", "wordnet"])
def test_tag_text_tags_every_non_space_token(name):
    tagged = tag_text(TEXTS[0], get_tagger(name))
    assert all((t.tag is None) == (t.token.kind == "space") for t in tagged)
    assert {t.text: t.wordnet_pos for t in tagged}["path"] == "n"
    # code tokens never get an editable part of speech
    assert all(t.wordnet_pos is None for t in tagged if t.token.protected)


def test_aptagger_refuses_pickled_code(tmp_path, monkeypatch):
    import pickle

    from codegym.nlp import pos

    bad = tmp_path / "trontagger-0.1.0.pickle"
    bad.write_bytes(pickle.dumps((print, {}, set())))
    monkeypatch.setattr(pos, "aptagger_model_path", lambda: bad)
    pos._load_aptagger_model.cache_clear()
    try:
        with pytest.raises(pickle.UnpicklingError, match="refusing"):
            pos._load_aptagger_model()
    finally:
        pos._load_aptagger_model.cache_clear()


@pytest.mark.parametrize(
    ("lemma", "tag", "form"),
    [
        ("sort", "VBZ", "sorts"),
        ("classify", "VBZ", "classifies"),
        ("go", "VBD", "went"),
        ("go", "VBN", "gone"),
        ("child", "NNS", "children"),
        ("box", "NNS", "boxes"),
        ("run", "VBG", "running"),
        ("make", "VBG", "making"),
        ("stop", "VBD", "stopped"),
        ("begin", "VBG", "beginning"),
        ("look_for", "VBZ", "looks for"),
        ("credit_card", "NNS", "credit cards"),
        ("good", "JJR", "better"),
        ("large", "JJS", "largest"),
        ("beautiful", "JJS", "most beautiful"),
        ("compute", "VB", "compute"),
    ],
)
def test_inflect(lemma, tag, form):
    assert inflect(lemma, tag) == form


def test_match_case():
    assert match_case("Write", "compose") == "Compose"
    assert match_case("LIST", "tilt") == "TILT"
    assert match_case("list", "tilt") == "tilt"
