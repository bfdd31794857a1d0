# Sourced by the API test scripts (api.sh, api_migrate.sh, balloon.sh,
# snapshot.sh): one request to the API socket $SOCK with curl, and the
# check of its answer. Responses land in $TMP/body.

# req METHOD PATH [BODY]: sets $code and $body. A request may take up to
# $REQ_TIMEOUT seconds (default 60; snapshots of a loaded guest take longer).
req() {
	local data=()
	[ $# -ge 3 ] && data=(--data "$3")
	code=$(curl -s -o "$TMP/body" -w '%{http_code}' --max-time "${REQ_TIMEOUT:-60}" --unix-socket "$SOCK" \
		-X "$1" "${data[@]}" "http://localhost$2")
	body=$(cat "$TMP/body" 2>/dev/null)
}
# expect NAME CODE [TEXT]: the last request answered CODE (and its body
# holds TEXT).
expect() {
	local name=$1 want=$2 text=${3:-}
	if [ "$code" != "$want" ]; then
		fail "$name" "HTTP $code, want $want; body: $body"
	elif [ -n "$text" ] && ! grep -qF -- "$text" <<<"$body"; then
		fail "$name" "body does not say '$text': $body"
	else
		pass "$name"
	fi
}
