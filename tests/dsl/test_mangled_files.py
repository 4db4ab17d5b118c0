"""Whatever an admin's editor does to a rule file, checking it ends in diagnostics or a plan — never an
exception. Real rule files, mangled at random: characters deleted, inserted (Chinese, full-width, operators),
lines dropped, duplicated or swapped."""
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tierwise.dsl import decode_rule_bytes
from tierwise.engine.build import compile_text
from tierwise.engine.plugin_manager import default_registry

ROOT = Path(__file__).resolve().parents[2]
FILES = sorted((ROOT / "tests" / "dsl" / "golden" / "valid").glob("*.tier"))
TEXTS = [decode_rule_bytes(p.read_bytes()) for p in FILES]
REGISTRY = default_registry()
NOISE = st.text(alphabet=list('{}()[]"\'#:,.%-+*/<>=!_ \t\n0123456789万亿%→（），：“”　客户年交易额weightscaletierelse..'),
                min_size=1, max_size=8)


@st.composite
def mangled(draw):
    text = draw(st.sampled_from(TEXTS))
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["delete", "insert", "drop_line", "dup_line", "swap_lines"]))
        lines = text.split("\n")
        if op == "delete" and text:
            i = draw(st.integers(0, len(text) - 1))
            text = text[:i] + text[i + draw(st.integers(1, 12)):]
        elif op == "insert":
            i = draw(st.integers(0, len(text)))
            text = text[:i] + draw(NOISE) + text[i:]
        elif op == "drop_line" and len(lines) > 1:
            del lines[draw(st.integers(0, len(lines) - 1))]
            text = "\n".join(lines)
        elif op == "dup_line":
            i = draw(st.integers(0, len(lines) - 1))
            lines.insert(i, lines[i])
            text = "\n".join(lines)
        elif op == "swap_lines" and len(lines) > 1:
            i, j = draw(st.integers(0, len(lines) - 1)), draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
            text = "\n".join(lines)
    return text


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mangled())
def test_checking_a_mangled_file_never_raises(text):
    plan, diags, _ = compile_text(text, "mangled.tier", REGISTRY)
    assert plan is not None or diags.errors  # no plan means it says why
    for d in diags.items:
        assert d.span is None or d.span.line >= 0
    rendered = diags.format()  # every diagnostic renders: line, caret, expectation
    assert "Traceback" not in rendered
