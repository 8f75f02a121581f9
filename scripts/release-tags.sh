#!/usr/bin/env bash
# Makes the release commit and its tags, and pushes them:
#   1. docker/prebuilt.json := RECORD_FILE (the pushed image's digests), committed on top of the
#      commit that was built and tested (HEAD), so the released tree names its own image;
#   2. vX.Y.Z (annotated) at that commit; a version tag already pushed by a person (the tag push
#      that started the release) may point at HEAD and is moved to the release commit, one
#      pointing anywhere else is refused;
#   3. vX (the major tag users pin to) moved there too, unless a higher vX.*.* exists already
#      (releasing a fix to an older minor must not move users backwards);
#   4. both tags pushed (forced: moving them is the point).
# The release commit lives on the tags only: the default branch keeps the unreleased placeholder
# record, which stays true while its Dockerfile changes.
#
# Usage: scripts/release-tags.sh VERSION RECORD_FILE [REMOTE]
#   VERSION      1.2.3 (or v1.2.3)
#   RECORD_FILE  the record scripts/release-image.ts wrote
#   REMOTE       git remote name or URL (default origin); credentials come from the environment
#                (the workflow passes an http.extraheader through GIT_CONFIG_* variables).
# Env: RELEASE_DRY_RUN=1 makes the commit and tags locally and pushes nothing.
set -euo pipefail

die() {
  echo "::error::$*"
  exit 1
}

version="${1:-}"
record="${2:-}"
remote="${3:-origin}"
version="${version#v}"
[[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "release version must be MAJOR.MINOR.PATCH, got '${1:-}'"
[ -f "$record" ] || die "no record file '$record'"
jq -e '(.platforms | type == "object" and length > 0) and (.sourceDigest | startswith("sha256:"))' \
  "$record" >/dev/null || die "$record is not a released record (no platform digests)"
jq -e --arg v "$version" '.version == $v' "$record" >/dev/null ||
  die "$record records version $(jq -r .version "$record"), not $version"

tag="v$version"
major="v${version%%.*}"
built="$(git rev-parse --verify 'HEAD^{commit}')"

# The commit a remote tag points at (peeled), or nothing.
remote_tag_commit() {
  git ls-remote "$remote" "refs/tags/$1" "refs/tags/$1^{}" | awk '{print $1}' | tail -n 1
}

if [ -n "${GITHUB_OUTPUT:-}" ]; then
  {
    echo "tag=$tag"
    echo "major=$major"
  } >>"$GITHUB_OUTPUT"
fi

existing="$(remote_tag_commit "$tag")"
if [ -n "$existing" ] && [ "$existing" != "$built" ]; then
  # A rerun after the tags were pushed: the tag is already the release commit made from HEAD.
  git fetch --quiet --no-tags "$remote" "+refs/tags/$tag:refs/release-check/$tag"
  check="refs/release-check/$tag"
  if [ "$(git rev-parse --verify --quiet "$check^{commit}^" || true)" = "$built" ] &&
    [ "$(git diff --name-only "$built" "$check")" = docker/prebuilt.json ] &&
    git show "$check:docker/prebuilt.json" | cmp --silent - "$record"; then
    git update-ref -d "refs/release-check/$tag"
    echo "$tag already points at the release commit $existing made from $built; nothing to do"
    exit 0
  fi
  git update-ref -d "refs/release-check/$tag"
  die "tag $tag already exists at $existing, not at the built commit $built: releases are not rewritten; bump the version"
fi

mkdir -p docker
cp "$record" docker/prebuilt.json
git add docker/prebuilt.json
git diff --cached --quiet && die "docker/prebuilt.json already holds this record: nothing to release"
git -c user.name="${RELEASE_GIT_NAME:-github-actions[bot]}" \
  -c user.email="${RELEASE_GIT_EMAIL:-41898282+github-actions[bot]@users.noreply.github.com}" \
  commit --quiet --no-verify -m "Release $tag: record the agent image digests" \
  -m "$(jq -r '.platforms | to_entries[] | "\(.key): \(.value)"' docker/prebuilt.json)"
release="$(git rev-parse HEAD)"
git -c user.name="${RELEASE_GIT_NAME:-github-actions[bot]}" \
  -c user.email="${RELEASE_GIT_EMAIL:-41898282+github-actions[bot]@users.noreply.github.com}" \
  tag --force --annotate "$tag" --message "$tag" "$release" >/dev/null

# Move the major tag only when this is the highest release of that major.
highest="$( (git ls-remote --tags "$remote" "refs/tags/$major.*" | awk '{print $2}' |
  sed -e 's#^refs/tags/v##' -e 's#\^{}$##' | grep -E '^[0-9]+\.[0-9]+\.[0-9]+$' || true
  echo "$version") | sort -u -V | tail -n 1)"
refs=("refs/tags/$tag")
if [ "$highest" = "$version" ]; then
  git tag --force "$major" "$release" >/dev/null
  refs+=("refs/tags/$major")
  echo "moving $major to $tag ($release)"
else
  echo "::notice::$major stays where it is: v$highest is a higher release of that major"
fi

if [ "${RELEASE_DRY_RUN:-0}" = 1 ]; then
  echo "dry run: would push ${refs[*]} to $remote"
else
  git push --force --quiet "$remote" "${refs[@]}"
fi
echo "released $tag at $release (built from $built)"
[ -z "${GITHUB_OUTPUT:-}" ] || echo "commit=$release" >>"$GITHUB_OUTPUT"
