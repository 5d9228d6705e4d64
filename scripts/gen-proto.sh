#!/usr/bin/env bash
# Regenerates the committed Swift code from proto/. Needs protoc (Debian: protobuf-compiler) and
# protoc-gen-swift built from the swift-protobuf checkout:
#   swift build -c release --product protoc-gen-swift --package-path .build/checkouts/swift-protobuf
# Pass its path as PROTOC_GEN_SWIFT if it is not on PATH.
set -euo pipefail
cd "$(dirname "$0")/.."
plugin=${PROTOC_GEN_SWIFT:-$(command -v protoc-gen-swift || echo .build/checkouts/swift-protobuf/.build/release/protoc-gen-swift)}
generate() { # proto file, target folder
  protoc --plugin=protoc-gen-swift="$plugin" --swift_opt=Visibility=Public \
    --swift_opt=ProtoPathModuleMappings=proto/module-mappings.asciipb \
    --proto_path=proto --swift_out="$2" "$1"
  echo "generated from $1 into $2"
}
generate proto/bus/v1/envelope.proto Sources/Bus/Generated
generate proto/bus/v1/health.proto Sources/Bus/Generated
generate proto/btmsg/v1/btmsg.proto Sources/BtmsgAPI/Generated
generate proto/bttask/v1/bttask.proto Sources/BttaskAPI/Generated
generate proto/diagnostics/v1/diagnostics.proto Sources/DiagnosticsAPI/Generated
generate proto/runner/v1/runner.proto Sources/RunnerAPI/Generated
