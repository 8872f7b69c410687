#!/bin/bash
# Builds halb_<version>_amd64.deb from a release build with the Swift runtime linked statically, so that the only
# dependencies are Debian's (computed by dpkg-shlibdeps from the binary, not guessed).
#
#   packaging/deb/build.sh [--output DIR]     (default DIR: .build-deb/)
#
# Needs: a Swift toolchain, dpkg-dev; lintian (optional) checks the result.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
here="$root/packaging/deb"
output="$root/.build-deb"
while [ $# -gt 0 ]; do
    case "$1" in
        --output) output="$2"; shift 2 ;;
        *) echo "usage: $0 [--output DIR]" >&2; exit 2 ;;
    esac
done
mkdir -p "$output"
output="$(cd "$output" && pwd)"

echo "== release build (static Swift runtime)"
cd "$root"
swift build -c release --static-swift-stdlib --product halb
binary="$(swift build -c release --static-swift-stdlib --show-bin-path)/halb"
version="$("$binary" --version)"
arch="$(dpkg --print-architecture)"

stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
pkg="$stage/root"
install -d "$pkg/DEBIAN" "$pkg/usr/bin" "$pkg/usr/lib/halb" "$pkg/lib/systemd/system" "$pkg/usr/lib/sysctl.d" \
    "$pkg/etc/halb" "$pkg/usr/share/doc/halb" "$pkg/usr/share/man/man1" \
    "$pkg/usr/share/bash-completion/completions" "$pkg/usr/share/zsh/vendor-completions" \
    "$pkg/usr/share/fish/vendor_completions.d" "$pkg/usr/share/lintian/overrides"

install -m 0755 "$binary" "$pkg/usr/bin/halb"
strip --strip-unneeded --remove-section=.comment --remove-section=.note "$pkg/usr/bin/halb"
install -m 0755 "$here/halb-device-start" "$here/halb-device-prepare" "$here/halb-console-start" "$pkg/usr/lib/halb/"
install -m 0644 "$here/halb-device.service" "$here/halb-console.service" "$pkg/lib/systemd/system/"
install -m 0644 "$here/60-halb.conf" "$pkg/usr/lib/sysctl.d/"
install -m 0644 "$root/examples/site.yaml" "$pkg/etc/halb/site.yaml.example"
install -m 0644 "$here/device.conf.example" "$here/console.conf.example" "$pkg/etc/halb/"
install -m 0644 "$root/README.md" "$pkg/usr/share/doc/halb/README.md"
install -m 0644 "$here/copyright" "$pkg/usr/share/doc/halb/copyright"
install -m 0644 "$here/lintian-overrides" "$pkg/usr/share/lintian/overrides/halb"
{
    echo "halb ($version) unstable; urgency=medium"
    echo
    echo "  * Release $version; see /usr/share/doc/halb/README.md."
    echo
    echo " -- HALB developers <halb@example.org>  $(date -R -d "@${SOURCE_DATE_EPOCH:-$(git -C "$root" log -1 --format=%ct)}")"
} | gzip -9n > "$pkg/usr/share/doc/halb/changelog.gz"

echo "== man pages and completions"
python3 "$here/manpages.py" "$binary" "$version" "$pkg/usr/share/man/man1"
# Sourced, not run: no #! line.
"$binary" --generate-completion-script bash | sed '1{/^#!/d}' > "$pkg/usr/share/bash-completion/completions/halb"
"$binary" --generate-completion-script zsh > "$pkg/usr/share/zsh/vendor-completions/_halb"
"$binary" --generate-completion-script fish > "$pkg/usr/share/fish/vendor_completions.d/halb.fish"
chmod 0644 "$pkg"/usr/share/*/completions/halb "$pkg"/usr/share/zsh/vendor-completions/_halb \
    "$pkg"/usr/share/fish/vendor_completions.d/halb.fish

echo "== control"
# dpkg-shlibdeps reads the libraries the binary needs and the packages that hold them.
mkdir -p "$stage/debian"
touch "$stage/debian/control"
depends="$(cd "$stage" && dpkg-shlibdeps -O -e root/usr/bin/halb 2>/dev/null | sed -n 's/^shlibs:Depends=//p')"
size="$(du -sk --exclude=DEBIAN "$pkg" | cut -f1)"
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@DEPENDS@/$depends/" -e "s/@SIZE@/$size/" \
    "$here/control" > "$pkg/DEBIAN/control"
install -m 0755 "$here/postinst" "$here/prerm" "$here/postrm" "$pkg/DEBIAN/"
(cd "$pkg" && find etc -type f | sed 's|^|/|' | sort) > "$pkg/DEBIAN/conffiles"
(cd "$pkg" && find usr lib -type f -print0 | sort -z | xargs -0 md5sum) > "$pkg/DEBIAN/md5sums"
chmod 0644 "$pkg/DEBIAN/conffiles" "$pkg/DEBIAN/md5sums" "$pkg/DEBIAN/control"

deb="$output/halb_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz --build "$pkg" "$deb" > /dev/null
echo "== built $deb ($(du -h "$deb" | cut -f1)); depends: $depends"
if command -v lintian > /dev/null; then
    echo "== lintian"
    # Errors fail the build; warnings are shown.
    lintian --fail-on error "$deb"
fi
