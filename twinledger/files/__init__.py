"""Files and archives of the domain's documents: reading and writing them on disk.

``twin_models`` is pure: it turns text, bytes, dicts and frames into domain objects and back, and never
opens a file (``tests/unit/test_domain_purity.py`` checks). The files and archives its documents are
stored in are read and written here, one module per domain area, named after the ``twin_models`` package
whose documents it stores:

* :mod:`twinledger.files.anomaly` — ``twin_models.anomaly``: model directories (``model.pkl`` +
  ``manifest.json``), SageMaker's ``model.tar.gz``, CSV files of sensor columns;
* :mod:`twinledger.files.oee` — ``twin_models.oee``: OEE scenario files;
* :mod:`twinledger.files.datasets` — ``twin_models.anomaly.evaluation``: the third-party evaluation
  datasets as published (``../shared/data``).

Each function takes a path, does the I/O and hands the content to the domain's pure function for that
document (``load_scenario(path)`` reads the text and calls ``twin_models.oee.parse_scenario``). A file
that cannot be read raises the area's domain error (``OeeInputError``, ``ModelArtifactError``,
``FeatureError``), so a caller handles one kind of error for a missing file and a bad one.

A command that reads a one-off input document (``twinledger bill --lease``, ``twinledger verify``) reads
the text itself and hands it to the domain's parser; a format with more to it than "read the text" (an
archive, a layout of several files, a dataset) gets a function here.

This package's ``__init__`` imports none of its modules: importing one loads only what its area needs
(the SageMaker bundle carries :mod:`twinledger.files.anomaly` alone).

Example:
    >>> from twinledger.files.oee import load_scenario
    >>> load_scenario("docs/examples/oee-worksheet.json").machines[0].machine_id
    'cnc-01'
"""
