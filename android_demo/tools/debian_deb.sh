# Sourced by platform_jar.sh and debug_apk.sh: download one .deb from a Debian suite the
# machine's apt is not set up for, without touching the machine's apt state or installing it.
#
#     deb=$(download_deb bullseye libandroid-23-java=6.0.1+r72-6 "$WORK_DIR")
#
# apt runs on a private sources list, lists and cache under WORK_DIR; apt checks the .deb
# against the suite's signed index (Debian's archive keys of the machine's keyring).

# The machine's own Debian mirror (its sources list, one-line or deb822 form), else Debian's.
debian_mirror() {
    local mirror
    mirror=$(grep -hoE 'https?://[^ ]+/debian/?( |$)' /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
        /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n1 | tr -d ' ' || true)
    echo "${mirror:-http://deb.debian.org/debian}"
}

# download_deb SUITE PACKAGE=VERSION WORK_DIR -> prints the path of the downloaded .deb
download_deb() {
    local suite="$1" spec="$2" work="$3" mirror
    mirror=$(debian_mirror)
    local apt_dir="$work/apt-$suite"
    mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$work/debs"
    echo "deb $mirror $suite main" > "$apt_dir/sources.list"
    local opts=(
        -o "Dir::Etc::SourceList=$apt_dir/sources.list"
        -o "Dir::Etc::SourceParts=/dev/null"
        -o "Dir::State::Lists=$apt_dir/lists"
        -o "Dir::Cache=$apt_dir/cache"
        -o "APT::Sandbox::User=$(id -un)"  # the private dirs are ours; apt's _apt user cannot write them
    )
    if [[ ! -f "$apt_dir/updated" ]]; then
        echo "apt-get update of $mirror $suite (private lists in $apt_dir)" >&2
        apt-get -q "${opts[@]}" update >"$apt_dir/update.log" 2>&1 || {
            echo "apt-get update of $mirror $suite failed (see $apt_dir/update.log):" \
                "$(tail -n2 "$apt_dir/update.log" | tr '\n' ' ')" >&2
            return 1
        }
        touch "$apt_dir/updated"
    fi
    local name="${spec%%=*}"
    rm -f "$work/debs/${name}_"*.deb
    (cd "$work/debs" && apt-get -q "${opts[@]}" download "$spec" >&2) || {
        echo "apt-get download $spec from $mirror $suite failed" >&2
        return 1
    }
    ls "$work/debs/${name}_"*.deb
}
