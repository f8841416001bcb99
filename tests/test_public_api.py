"""The public surface is deliberate: adding or removing a name must be a conscious change."""

import headwater


def test_public_names() -> None:
    assert sorted(headwater.__all__) == [
        "ContractViolation",
        "HeadwaterError",
        "LakeError",
        "ModelError",
        "ProjectError",
        "ProjectFileError",
        "QueryError",
        "ReadContext",
        "RunFailed",
        "SourceError",
        "SourceUnreachable",
        "TableDetails",
        "TableNotFound",
        "Workspace",
        "__version__",
    ]
    for name in headwater.__all__:
        assert hasattr(headwater, name)
