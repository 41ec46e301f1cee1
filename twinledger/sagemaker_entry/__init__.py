"""SageMaker entry points: ``train`` (script-mode training) and ``inference`` (the serving handlers).

Both run inside the SageMaker scikit-learn container with only ``twin_models.anomaly`` and
``twinledger.files.anomaly`` (model directories, sensor CSVs) next to them
(see ``twinledger.deploy.sagemaker_deploy.build_source_bundle``).
"""
