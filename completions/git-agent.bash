
_clap_complete_git_agent() {
    local IFS=$'\013'
    local _CLAP_COMPLETE_INDEX=${COMP_CWORD}
    local _CLAP_COMPLETE_COMP_TYPE=${COMP_TYPE}
    if compopt +o nospace 2> /dev/null; then
        local _CLAP_COMPLETE_SPACE=false
    else
        local _CLAP_COMPLETE_SPACE=true
    fi
    local words=("${COMP_WORDS[@]}")
    if [[ "${BASH_VERSINFO[0]}" -ge 4 ]]; then
        words[COMP_CWORD]="$2"
    fi
    COMPREPLY=( $( \
        _CLAP_IFS="$IFS" \
        _CLAP_COMPLETE_INDEX="$_CLAP_COMPLETE_INDEX" \
        _CLAP_COMPLETE_COMP_TYPE="$_CLAP_COMPLETE_COMP_TYPE" \
        _CLAP_COMPLETE_SPACE="$_CLAP_COMPLETE_SPACE" \
        GIT_AGENT_COMPLETE="bash" \
        "git-agent" -- "${words[@]}" 2>/dev/null \
    ) )
    if [[ $? != 0 ]]; then
        unset COMPREPLY
    elif [[ $_CLAP_COMPLETE_SPACE == false ]] && [[ "${COMPREPLY-}" =~ [=/:]$ ]]; then
        compopt -o nospace
    fi
}
if [[ "${BASH_VERSINFO[0]}" -eq 4 && "${BASH_VERSINFO[1]}" -ge 4 || "${BASH_VERSINFO[0]}" -gt 4 ]]; then
    complete -o nospace -o bashdefault -o nosort -F __git_agent_complete git-agent
else
    complete -o nospace -o bashdefault -F __git_agent_complete git-agent
fi


__git_agent_complete_words() {
    local complete=$1 COMP_CWORD=$2
    shift 2
    local -a COMP_WORDS=("$@")
    local cur=${COMP_WORDS[COMP_CWORD]}
    "$complete" "${COMP_WORDS[0]}" "$cur" "${COMP_WORDS[COMP_CWORD-1]}"
    if [[ $cur == *[=:]* ]]; then
        local broken=${cur%"${cur##*[=:]}"}
        COMPREPLY=("${COMPREPLY[@]#"$broken"}")
    fi
}

__git_agent_complete() {
    local words cword
    if declare -F _get_comp_words_by_ref >/dev/null; then
        _get_comp_words_by_ref -n =: words cword
    else
        words=("${COMP_WORDS[@]}") cword=$COMP_CWORD
    fi
    __git_agent_complete_words _clap_complete_git_agent "$cword" "${words[@]}"
}

# `git agent ...`, through git's own bash completion.
_git_agent() {
    local cmd_idx=${__git_cmd_idx:-1}
    local -a git_c=("${__git_C_args[@]}")
    __git_agent_complete_words _clap_complete_git_agent $((cword - cmd_idx + ${#git_c[@]})) git-agent "${git_c[@]}" "${words[@]:cmd_idx+1}"
}
