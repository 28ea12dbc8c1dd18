"""Notebook 05 in SMOKE mode on its default data (the synthetic benchmark): the fidelity figures are drawn,
not silently skipped, and their numbers carry their source. (nbmake only checks that it runs.)"""
import pytest
from test_notebooks_ava import outputs_text, run_notebook


@pytest.mark.slow
def test_failure_cases_draws_the_fidelity_figures_on_the_benchmark(tmp_path):
    out = tmp_path / "out"
    notebook = run_notebook("05_failure_cases", f'OUTPUT_DIR = r"{out}"', tmp_path)
    saved = {path.name for path in out.iterdir()}
    assert {"fidelity_theme_response.png", "fidelity_attribute_responses.png", "fidelity_theme_response_pairs.csv",
            "fidelity_attribute_responses.csv"} <= saved  # fmt: skip
    text = outputs_text(notebook)
    assert "**Theme response** (this run: computed here" in text and "**Full resolution vs the downscaled views** (this run: computed here" in text
    assert "grain 0 -> 1" in text and "SYNTHETIC" in text
