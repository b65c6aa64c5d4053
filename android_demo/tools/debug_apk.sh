#!/usr/bin/env bash
# Assembles a debug APK of android_demo from Debian's tools, without Gradle and without the
# LiteRT and ExecuTorch libraries (docs/android.md, "A debug APK without Gradle"):
#     bash android_demo/tools/debug_apk.sh [OUT_DIR]      # default: build/android-debug-apk
#
# javac (API-23 android.jar; the compile-only stubs on the classpath, not in the APK) -> dx
# (dalvik-exchange, Debian bullseye) -> aapt package against framework-res.apk (Debian's
# android-framework-res, Android 10) with the manifest values the Gradle build would merge in
# (package, minSdk, targetSdk, version) -> zipalign -> apksigner with a throw-away debug key.
# The APK it writes installs, but opening a model fails (the two runtimes are not in it):
# it shows that the manifest links, the app's bytecode dexes for minSdk 24 and the APK
# signs and verifies, not that the app runs.
# Needs: a JDK, and `apt-get install aapt zipalign apksigner` (Debian bookworm has them).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DEMO="$(dirname "$HERE")"
OUT="$(realpath -m "${1:-build/android-debug-apk}")"
CACHE="${CONVBERT_EDGE_CACHE:-$HOME/.cache/convbert_edge}"
TOOLS="${CACHE/#\~/$HOME}/android/apk-tools"
DX_DEB=dalvik-exchange=10.0.0+r36-1
RES_DEB=android-framework-res=1:10.0.0+r36-3
# The Gradle build's values (app/build.gradle).
PACKAGE=org.convbertedge.demo MIN_SDK=24 TARGET_SDK=35 VERSION_CODE=1 VERSION_NAME=0.1.0

die() {
    echo "debug_apk.sh: $*" >&2
    exit 1
}
for tool in javac java keytool aapt zipalign apksigner dpkg-deb; do
    command -v "$tool" >/dev/null || die "needs $tool: apt-get install aapt zipalign apksigner (and a JDK)"
done

bash "$HERE/platform_jar.sh"
JAR="$(dirname "$TOOLS")/android-23.jar"
DX_JAR="$TOOLS/usr/share/java/com.android.dx-10.0.0.jar"
FRAMEWORK_RES="$TOOLS/usr/share/android-framework-res/framework-res.apk"
if [[ ! -f "$DX_JAR" || ! -f "$FRAMEWORK_RES" ]]; then
    source "$HERE/debian_deb.sh"
    for spec in "$DX_DEB" "$RES_DEB"; do
        deb=$(download_deb bullseye "$spec" "$TOOLS/work") || die "could not download $spec (above)"
        dpkg-deb -x "$deb" "$TOOLS"
    done
    rm -rf "$TOOLS/work"
fi

rm -rf "$OUT" && mkdir -p "$OUT/stubs" "$OUT/classes"
FLAGS=(-source 8 -target 8 -encoding UTF-8 -Xlint:all,-options -Werror -bootclasspath "$JAR")
javac "${FLAGS[@]}" -d "$OUT/stubs" $(find "$DEMO/compile_stubs" -name '*.java')
javac "${FLAGS[@]}" -classpath "$OUT/stubs" -d "$OUT/classes" \
    $(find "$DEMO/core/src/main" "$DEMO/app/src/main" -name '*.java')
java -jar "$DX_JAR" --dex --min-sdk-version="$MIN_SDK" --output="$OUT/classes.dex" "$OUT/classes"

# What the Android Gradle Plugin's manifest merger adds from app/build.gradle.
sed "s|<manifest xmlns:android=\"http://schemas.android.com/apk/res/android\">|<manifest xmlns:android=\"http://schemas.android.com/apk/res/android\" package=\"$PACKAGE\" android:versionCode=\"$VERSION_CODE\" android:versionName=\"$VERSION_NAME\">\n    <uses-sdk android:minSdkVersion=\"$MIN_SDK\" android:targetSdkVersion=\"$TARGET_SDK\" />|" \
    "$DEMO/app/src/main/AndroidManifest.xml" > "$OUT/AndroidManifest.xml"
grep -q "package=\"$PACKAGE\"" "$OUT/AndroidManifest.xml" || die "app/src/main/AndroidManifest.xml: its <manifest> tag changed; update the sed above"
aapt package -f -M "$OUT/AndroidManifest.xml" -I "$FRAMEWORK_RES" -F "$OUT/unsigned.apk"
(cd "$OUT" && aapt add unsigned.apk classes.dex >/dev/null)
zipalign -f 4 "$OUT/unsigned.apk" "$OUT/aligned.apk"
keytool -genkeypair -keystore "$OUT/debug.keystore" -storepass android -keypass android \
    -alias androiddebugkey -keyalg RSA -keysize 2048 -validity 10000 \
    -dname "CN=Android Debug,O=Android,C=US" >/dev/null 2>&1
apksigner sign --ks "$OUT/debug.keystore" --ks-pass pass:android --ks-key-alias androiddebugkey \
    --out "$OUT/app-debug.apk" "$OUT/aligned.apk"
apksigner verify "$OUT/app-debug.apk"
zipalign -c 4 "$OUT/app-debug.apk"
aapt dump badging "$OUT/app-debug.apk" | grep -E "^(package|sdkVersion|targetSdkVersion|launchable-activity)"
echo "$OUT/app-debug.apk ($(stat -c %s "$OUT/app-debug.apk") bytes)"
