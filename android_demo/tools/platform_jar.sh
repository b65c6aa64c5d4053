#!/usr/bin/env bash
# Puts Android's API-23 platform jar (android.jar) into the toolkit's cache, for the compile
# check of android_demo (tests/test_android_compile.py):
#     ${CONVBERT_EDGE_CACHE:-~/.cache/convbert_edge}/android/android-23.jar
#
# Where it comes from: Debian's bullseye suite. android-sdk-platform-23 is the SDK platform
# package; the jar itself is in its dependency libandroid-23-java (a symlink links the two),
# built by Debian from AOSP's android-6.0.1 sources. No newer platform jar is packaged for any
# Debian suite. Nothing is installed: apt runs on a private sources list and private state
# under the cache directory, `apt-get download` fetches the one .deb (checked by apt against
# the signed index) and dpkg-deb takes the jar out of it, whose sha256 is checked below.
# Idempotent: a jar already in place with the pinned sha256 is left alone (no network).
set -euo pipefail

PACKAGE=libandroid-23-java
VERSION=6.0.1+r72-6
JAR_IN_DEB=./usr/share/java/com.android.android-23.jar
SHA256=4475aa3fe1fc28bdb87ae6351d6ccff58f344a1b9e2fe685f7a6fee41ba68613
SUITE=bullseye

CACHE="${CONVBERT_EDGE_CACHE:-$HOME/.cache/convbert_edge}"
CACHE="${CACHE/#\~/$HOME}"
OUT_DIR="$CACHE/android"
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
    command -v "$tool" >/dev/null || die "needs $tool (a Debian or Ubuntu machine); without it, put an API-23 android.jar with sha256 $SHA256 at $JAR"
done

# The machine's own Debian mirror (its sources list, one-line or deb822 form), else Debian's.
MIRROR=$(grep -hoE 'https?://[^ ]+/debian/?( |$)' /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
    /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n1 | tr -d ' ' || true)
MIRROR="${MIRROR:-http://deb.debian.org/debian}"

APT_DIR="$OUT_DIR/apt"
mkdir -p "$APT_DIR/lists/partial" "$APT_DIR/cache/archives/partial" "$APT_DIR/download"
echo "deb $MIRROR $SUITE main" > "$APT_DIR/sources.list"
APT_OPTS=(
    -o "Dir::Etc::SourceList=$APT_DIR/sources.list"
    -o "Dir::Etc::SourceParts=/dev/null"
    -o "Dir::State::Lists=$APT_DIR/lists"
    -o "Dir::Cache=$APT_DIR/cache"
    -o "APT::Sandbox::User=$(id -un)"  # the private dirs are ours; apt's _apt user cannot write them
)

echo "fetching $PACKAGE=$VERSION from $MIRROR $SUITE into $OUT_DIR"
apt-get -q "${APT_OPTS[@]}" update >"$APT_DIR/update.log" 2>&1 \
    || die "apt-get update of $MIRROR $SUITE failed (see $APT_DIR/update.log): $(tail -n2 "$APT_DIR/update.log" | tr '\n' ' ')"
rm -f "$APT_DIR/download/"*.deb
(cd "$APT_DIR/download" && apt-get -q "${APT_OPTS[@]}" download "$PACKAGE=$VERSION") \
    || die "apt-get download $PACKAGE=$VERSION from $MIRROR $SUITE failed"
DEB=$(ls "$APT_DIR/download/"*.deb)

TMP="$JAR.tmp"
dpkg-deb --fsys-tarfile "$DEB" | tar -xOf - "$JAR_IN_DEB" > "$TMP" \
    || die "$DEB has no $JAR_IN_DEB"
GOT=$(sha256sum "$TMP" | cut -d' ' -f1)
[[ "$GOT" == "$SHA256" ]] || { rm -f "$TMP"; die "$JAR_IN_DEB in $DEB has sha256 $GOT, expected $SHA256"; }
mv "$TMP" "$JAR"
echo "$SHA256  android-23.jar" > "$JAR.sha256"
rm -rf "$APT_DIR"  # the lists and the .deb (about 22 MB) are not needed once the jar is out
echo "$JAR (sha256 $SHA256) from $PACKAGE $VERSION"
