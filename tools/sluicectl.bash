# sluicectl.bash: bash completion for sluicectl (installed as
# bash-completion/completions/sluicectl). Commands and flags are those of
# tools/sluicectl.c; stage points and clusters come from the running
# sluiced (sluicectl --json graph show), quietly: without a daemon there are
# none.

# _sluicectl_graph KIND: stage names, stage.port points or cluster names of
# the running graph, on the socket the command line names.
_sluicectl_graph()
{
	local kind=$1 i sock=()
	for ((i = 1; i < COMP_CWORD; i++)); do
		case ${COMP_WORDS[i]} in
		-s | --socket) sock=(-s "${COMP_WORDS[i + 1]}") ;;
		--socket=*) sock=(-s "${COMP_WORDS[i]#--socket=}") ;;
		esac
	done
	command -v python3 > /dev/null 2>&1 || return 0
	"${COMP_WORDS[0]}" "${sock[@]}" --timeout 1 --json graph show 2> /dev/null |
		python3 -c '
import json, re, sys
try:
    g = json.load(sys.stdin)
except ValueError:
    sys.exit(0)
g = g.get("result", g)
base = lambda n: re.sub(r"\[\d+\]$", "", n)
kind = sys.argv[1]
if kind == "clusters":
    out = set(g.get("clusters", {}))
else:
    out = {base(s["name"]) for s in g.get("stages", [])}
    out |= {base(c["from"]) + "." + c["port"] for c in g.get("connectors", [])}
print("\n".join(sorted(out)))
' "$kind" 2> /dev/null
}

_sluicectl()
{
	local cur prev i cmd="" sub="" nargs=0
	cur=${COMP_WORDS[COMP_CWORD]}
	prev=${COMP_WORDS[COMP_CWORD - 1]}
	local commands="status graph map counters capture trace dataplane shutdown"
	local global="-s --socket -j --json -t --timeout -h --help --version"

	# Find the command and its subcommand past the global options.
	for ((i = 1; i < COMP_CWORD; i++)); do
		case ${COMP_WORDS[i]} in
		-s | --socket | -t | --timeout | -w | --write | --filter | --count | --duration | \
			--snaplen | --watch)
			((i++)) # the option's value
			;;
		-*) ;;
		*)
			if [ -z "$cmd" ]; then
				cmd=${COMP_WORDS[i]}
			elif [ -z "$sub" ]; then
				sub=${COMP_WORDS[i]}
			else
				((nargs++))
			fi
			;;
		esac
	done

	if [ -z "$cmd" ]; then
		case $prev in
		-s | --socket)
			COMPREPLY=($(compgen -f -- "$cur"))
			return
			;;
		-t | --timeout) return ;;
		esac
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W "$global" -- "$cur"))
		else
			COMPREPLY=($(compgen -W "$commands" -- "$cur"))
		fi
		return
	fi

	case $cmd in
	graph)
		case $sub in
		"") COMPREPLY=($(compgen -W "show validate load" -- "$cur")) ;;
		show) COMPREPLY=($(compgen -W "--dot --json" -- "$cur")) ;;
		validate | load) [ "$nargs" -eq 0 ] && COMPREPLY=($(compgen -f -- "$cur")) ;;
		esac
		;;
	map)
		case $sub in
		"") COMPREPLY=($(compgen -W "show set" -- "$cur")) ;;
		set)
			[ "$nargs" -eq 0 ] &&
				COMPREPLY=($(compgen -W "$(_sluicectl_graph clusters)" -- "$cur"))
			;;
		esac
		;;
	counters)
		case $prev in
		--watch) return ;;
		esac
		COMPREPLY=($(compgen -W "stages connectors ports --watch --reset --json" -- "$cur"))
		;;
	capture)
		case $prev in
		-w | --write)
			COMPREPLY=($(compgen -f -- "$cur") -)
			return
			;;
		--filter | --count | --duration | --snaplen) return ;;
		esac
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W "-w --write --filter --count --duration --snaplen --json" -- "$cur"))
		elif [ -z "$sub" ]; then
			COMPREPLY=($(compgen -W "$(_sluicectl_graph points)" -- "$cur"))
		fi
		;;
	trace)
		case $prev in
		--count | --filter | --timeout) return ;;
		esac
		COMPREPLY=($(compgen -W "--count --filter --timeout --json" -- "$cur"))
		;;
	dataplane)
		[ -z "$sub" ] && COMPREPLY=($(compgen -W "restart" -- "$cur"))
		;;
	esac
}
complete -F _sluicectl sluicectl
