import csv


def load(path):
    with open(path) as f:
        return list(csv.DictReader(f))
