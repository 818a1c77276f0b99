"""What the sandbox offers, as plain data: task names, the built-in datasets, upload and demo limits.

The web process reads these to draw forms and check requests; it imports none of numpy, pandas or
scikit-learn to do so (mlopslab.lazy). The modules that compute with them import this one.
"""

CLASSIFICATION = "classification"
REGRESSION = "regression"
TARGET = "target"

# name -> (the loader's name in sklearn.datasets, task, description). Nothing is downloaded.
BUILTIN = {
    "iris": ("load_iris", CLASSIFICATION, "150 iris flowers, 4 measurements, 3 species."),
    "wine": ("load_wine", CLASSIFICATION, "178 wines, 13 chemical measurements, 3 cultivars."),
    "breast_cancer": ("load_breast_cancer", CLASSIFICATION, "569 tumours, 30 measurements, malignant or benign."),
    "digits": ("load_digits", CLASSIFICATION, "1,797 8×8 images of handwritten digits, 10 classes."),
    "diabetes": ("load_diabetes", REGRESSION, "442 patients, 10 baseline variables, disease progression."),
}

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
MAX_ROWS = 200_000
MAX_COLUMNS = 200

# The first-model demo's longest training, in epochs.
MAX_EPOCHS = 200
