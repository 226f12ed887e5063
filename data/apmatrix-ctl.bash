# bash completion for apmatrix-ctl(8).
# Commands and options are read from `apmatrix-ctl --help` and
# `apmatrix-ctl COMMAND --help`, so whatever the installed binary has is
# completed, and nothing it does not have. APQNs are completed from the
# host's /sys/bus/ap/devices.

_apmatrix_ctl_help()
{
    # the help text of the binary, without locale surprises
    LC_ALL=C "$@" 2>/dev/null
}

_apmatrix_ctl()
{
    local cur prev words cword
    _init_completion || return

    local prog=${words[0]} i cmd= root=${APMATRIX_SYSFS_ROOT:-/sys}
    for ((i = 1; i < cword; i++)); do
        case ${words[i]} in
            --sysfs-root)
                ((i++))
                root=${words[i]}
                ;;
            -*) ;;
            *)
                cmd=${words[i]}
                break
                ;;
        esac
    done

    # after "--" comes a command that apmatrix-ctl starts (grant ... -- CMD)
    for ((i = 1; i < cword; i++)); do
        if [[ ${words[i]} == -- ]]; then
            _command_offset $((i + 1))
            return
        fi
    done

    local help
    if [[ -n $cmd ]]; then
        help=$(_apmatrix_ctl_help "$prog" "$cmd" --help)
    else
        help=$(_apmatrix_ctl_help "$prog" --help)
    fi

    # the configuration's set names (sets NAME, grant --set NAME)
    if [[ $prev == --set || ( $cmd == sets && $cur != -* ) ]]; then
        COMPREPLY=($(compgen -W "$(_apmatrix_ctl_help "$prog" sets | sed -n 's/^\([A-Za-z0-9_.-]*\): apqns .*/\1/p')" -- "$cur"))
        return
    fi

    # the argument of an option: its help line says "--opt ARG"
    if [[ $prev == -* ]]; then
        local arg
        arg=$(sed -n -E "s/.*[ ,]${prev//-/\\-} ([A-Z]+)( |\$).*/\\1/p" <<<"$help" | head -n1)
        case $arg in
            DIR)
                _filedir -d
                return
                ;;
            PID)
                _pids
                return
                ;;
            ?*)
                return  # a number, IDs or milliseconds: nothing to offer
                ;;
        esac
    fi

    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$(sed -n -E 's/^ +(-[a-zA-Z], )?(--[a-z][a-z-]*).*/\2/p' <<<"$help")" -- "$cur"))
        return
    fi
    if [[ -z $cmd ]]; then
        COMPREPLY=($(compgen -W "$(sed -n '/^Commands:/,/^$/s/^  \([a-z][a-z-]*\) .*/\1/p' <<<"$help")" -- "$cur"))
        return
    fi
    case $cmd in
        list | reserve | release | set)
            local q=() f
            for f in "$root"/bus/ap/devices/[0-9a-f][0-9a-f].[0-9a-f][0-9a-f][0-9a-f][0-9a-f]; do
                [[ -e $f ]] && q+=("${f##*/}")
            done
            COMPREPLY=($(compgen -W "${q[*]}" -- "$cur"))
            ;;
    esac
} &&
    complete -F _apmatrix_ctl apmatrix-ctl
