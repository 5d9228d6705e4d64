#!/usr/bin/env bash
# Regenerates the committed Swift code from proto/. Needs protoc (Debian: protobuf-compiler) and
# protoc-gen-swift built from the swift-protobuf checkout:
#   swift build -c release --product protoc-gen-swift --package-path .build/checkouts/swift-protobuf
# Pass its path as PROTOC_GEN_SWIFT if it is not on PATH.
set -euo pipefail
cd "$(dirname "$0")/.."
plugin=${PROTOC_GEN_SWIFT:-$(command -v protoc-gen-swift || echo .build/checkouts/swift-protobuf/.build/release/protoc-gen-swift)}
protoc --plugin=protoc-gen-swift="$plugin" --swift_opt=Visibility=Public \
  --proto_path=proto --swift_out=Sources/Bus/Generated proto/bus/v1/envelope.proto
echo "generated Sources/Bus/Generated/bus/v1/envelope.pb.swift"
