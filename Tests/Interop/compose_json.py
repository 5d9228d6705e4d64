"""Prints compose/docker-compose.yml as JSON (PyYAML, installed with schemathesis), for the tests."""
import json
import sys

import yaml

with open(sys.argv[1]) as f:
    print(json.dumps(yaml.safe_load(f)))
