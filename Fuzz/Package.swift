// swift-tools-version:6.2

import Foundation
import PackageDescription

// libFuzzer targets for HALB's parsers of outside input (see README.md). Build with:
//
//     swift build --package-path Fuzz -c release --sanitize=fuzzer --sanitize=address \
//         -Xswiftc -sanitize=fuzzer,address
//
// (README.md says why both forms.) `Fuzz/run.sh` does that and runs them.

/// The main package's identity: the name of the folder that holds this one (`main` in a work tree, whatever a CI
/// clone is called).
let halb = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().lastPathComponent
    .lowercased()

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "halb-fuzz",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(path: ".."),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.0"),
    ],
    targets: [
        .executableTarget(
            name: "fuzz-site-yaml",
            dependencies: [.product(name: "HALBCore", package: halb)],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "fuzz-site-json",
            dependencies: [.product(name: "HALBCore", package: halb)],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "fuzz-vrrp",
            dependencies: [.product(name: "HALBFailover", package: halb)],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "fuzz-client-hello",
            dependencies: [.product(name: "HALBBalancer", package: halb)],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "fuzz-server-hello",
            dependencies: [.product(name: "HALBBalancer", package: halb)],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "fuzz-proxy-header",
            dependencies: [
                .product(name: "HALBBalancer", package: halb),
                .product(name: "HALBCore", package: halb),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)
