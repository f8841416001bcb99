"""The public surface is deliberate: adding or removing a name must be a conscious change."""

import headwater


def test_public_names() -> None:
    assert sorted(headwater.__all__) == [
        "BadRows",
        "Branch",
        "ContractViolation",
        "Entry",
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
        "StreamError",
        "StreamNotFound",
        "TableDetails",
        "TableNotFound",
        "TaskContext",
        "Workspace",
        "__version__",
        "pipeline",
        "task",
        "tasks",
    ]
    for name in headwater.__all__:
        assert hasattr(headwater, name)
