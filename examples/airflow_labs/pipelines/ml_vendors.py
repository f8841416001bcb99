"""The ML lab: one pipeline per vendor, made from one template in a loop.

check_quality → train → is_deployable → deploy (RMSE below max_rmse) | notify (otherwise)
"""

from __future__ import annotations

from labs.ml import MAX_RMSE, check_quality, deploy, is_deployable, notify, train

from headwater import pipeline
from headwater.orchestrate.define import PipelineDefinition

VENDORS = ("alitran", "easy_destiny", "to_my_place_ai")


def vendor_pipeline(vendor: str) -> PipelineDefinition:
    """The pipeline ``ml_<vendor>``: a quality check, training, and a branch on the RMSE."""

    @pipeline(
        name=f"ml_{vendor}",
        description=f"Check {vendor}'s trips, train a trip-time model, deploy it if good enough.",
        params={"max_rmse": MAX_RMSE},
    )
    def body() -> None:
        model = train(vendor, after=check_quality(vendor))
        # the branch picks one of the two; the other is skipped
        is_deployable(model) >> [deploy(model), notify(model)]

    return body


# discovered like a top-level pipeline: a list of them is fine
ML_PIPELINES = [vendor_pipeline(vendor) for vendor in VENDORS]
