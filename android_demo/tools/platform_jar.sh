#!/usr/bin/env bash
# Puts Android's API-23 platform jar (android.jar) into the toolkit's cache, for the compile
# check of android_demo (tests/test_android_compile.py):
#     ${CONVBERT_EDGE_CACHE:-~/.cache/convbert_edge}/android/android-23.jar
#
# Where it comes from: Debian's bullseye suite. android-sdk-platform-23 is the SDK platform
# package; the jar itself is in its dependency libandroid-23-java (a symlink links the two),
# built by Debian from AOSP's android-6.0.1 sources. No newer platform jar is packaged for any
# Debian suite. Nothing is installed (debian_deb.sh): apt-get download fetches the one .deb,
# dpkg-deb takes the jar out of it, and its sha256 is checked against the one pinned here.
# Idempotent: a jar already in place with the pinned sha256 is left alone (no network).
set -euo pipefail

PACKAGE=libandroid-23-java
VERSION=6.0.1+r72-6
JAR_IN_DEB=./usr/share/java/com.android.android-23.jar
SHA256=4475aa3fe1fc28bdb87ae6351d6ccff58f344a1b9e2fe685f7a6fee41ba68613

CACHE="${CONVBERT_EDGE_CACHE:-$HOME/.cache/convbert_edge}"
OUT_DIR="${CACHE/#\~/$HOME}/android"
JAR="$OUT_DIR/android-23.jar"

die() {
    echo "platform_jar.sh: $*" >&2
    exit 1
}

if [[ -f "$JAR" ]] && [[ "$(sha256sum "$JAR" | cut -d' ' -f1)" == "$SHA256" ]]; then
    echo "$JAR (sha256 $SHA256) is in place"
    exit 0
fi
for tool in apt-get dpkg-deb sha256sum; do
    command -v "$tool" >/dev/null \
        || die "needs $tool (a Debian or Ubuntu machine); without it, put an API-23 android.jar with sha256 $SHA256 at $JAR"
done

source "$(dirname "${BASH_SOURCE[0]}")/debian_deb.sh"
WORK="$OUT_DIR/work"
echo "fetching $PACKAGE=$VERSION from Debian bullseye into $OUT_DIR"
DEB=$(download_deb bullseye "$PACKAGE=$VERSION" "$WORK") || die "could not download $PACKAGE=$VERSION (above)"

TMP="$JAR.tmp"
dpkg-deb --fsys-tarfile "$DEB" | tar -xOf - "$JAR_IN_DEB" > "$TMP" || die "$DEB has no $JAR_IN_DEB"
GOT=$(sha256sum "$TMP" | cut -d' ' -f1)
[[ "$GOT" == "$SHA256" ]] || { rm -f "$TMP"; die "$JAR_IN_DEB in $DEB has sha256 $GOT, expected $SHA256"; }
mv "$TMP" "$JAR"
echo "$SHA256  android-23.jar" > "$JAR.sha256"
rm -rf "$WORK"  # the lists and the .deb (about 22 MB) are not needed once the jar is out
echo "$JAR (sha256 $SHA256) from $PACKAGE $VERSION"
