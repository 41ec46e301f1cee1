"""SageMaker entry points: ``train`` (script-mode training) and ``inference`` (the serving handlers).

Both run inside the SageMaker scikit-learn container with only ``twin_models`` next to them
(see ``twinledger.deploy.sagemaker_deploy.build_source_bundle``).
"""
