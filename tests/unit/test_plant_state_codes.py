"""A plant's own state codes: any mapping of codes the platform does not fix is read back exactly, through
JSON, and every other code keeps the category of the default table; a code the platform fixes is refused
whenever the mapping would change its meaning."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from twin_models.states import DEFAULT_TAXONOMY, PlantStateCodes, StateCategory, StateCode

FIXED = sorted(int(c) for c in StateCode)
codes = st.integers(min_value=0, max_value=9999)
categories = st.sampled_from(list(StateCategory))


@settings(max_examples=300)
@given(mapping=st.dictionaries(codes.filter(lambda c: c not in FIXED), categories, max_size=40), probe=codes)
def test_a_mapping_reads_its_codes_as_mapped_and_every_other_code_as_before(
    mapping: dict[int, StateCategory], probe: int
) -> None:
    # Given any mapping of codes the platform does not fix, sent as JSON (string keys)
    sent = PlantStateCodes.model_validate_json(
        PlantStateCodes.model_validate({"codes": {str(k): v.value for k, v in mapping.items()}}).model_dump_json()
    )
    taxonomy = sent.taxonomy()
    # Then each mapped code reads as mapped, and any other code as the default table reads it (or not at all)
    assert sent.codes == mapping
    if probe in mapping:
        assert taxonomy.knows(probe) and taxonomy.category(probe) is mapping[probe]
    else:
        assert taxonomy.knows(probe) == DEFAULT_TAXONOMY.knows(probe)
        if DEFAULT_TAXONOMY.knows(probe):
            assert taxonomy.category(probe) is DEFAULT_TAXONOMY.category(probe)


@given(code=st.sampled_from(FIXED), category=categories)
def test_a_code_the_platform_fixes_keeps_its_meaning(code: int, category: StateCategory) -> None:
    body = {"codes": {str(code): category.value}}
    if category is DEFAULT_TAXONOMY.category(code):  # restating its own category changes nothing
        assert PlantStateCodes.model_validate(body).taxonomy().category(code) is category
        return
    with pytest.raises(ValidationError, match="keeps its meaning"):
        PlantStateCodes.model_validate(body)


@pytest.mark.parametrize("code", ["-1", "10000", "x", "1.5"])
def test_a_code_outside_what_a_sample_carries_is_refused(code: str) -> None:
    with pytest.raises(ValidationError):
        PlantStateCodes.model_validate({"codes": {code: "running"}})
