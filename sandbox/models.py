"""The sandbox's models, each defined in its capability's package; Django looks for them here."""

from sandbox.datasets.models import Dataset, DatasetVersion
from sandbox.jobs.models import Job
from sandbox.llmops.models import RagAnswer, RagConfigVersion, RagEvaluation, RagPromotion
from sandbox.monitoring.models import DriftPolicy, DriftReport, Drill, MonitoringEvent, TrafficRun
from sandbox.registry.models import AliasEvent, ModelAlias, ModelVersion, RegisteredModel, Validation
from sandbox.serving.models import ApiToken, Deployment, PredictionLog, RefusedRequest, Release
from sandbox.tracking.models import Experiment, Run

__all__ = [
    "AliasEvent",
    "ApiToken",
    "Dataset",
    "DatasetVersion",
    "Deployment",
    "DriftPolicy",
    "DriftReport",
    "Drill",
    "Experiment",
    "Job",
    "ModelAlias",
    "ModelVersion",
    "MonitoringEvent",
    "PredictionLog",
    "RagAnswer",
    "RagConfigVersion",
    "RagEvaluation",
    "RagPromotion",
    "RefusedRequest",
    "RegisteredModel",
    "Release",
    "Run",
    "TrafficRun",
    "Validation",
]
