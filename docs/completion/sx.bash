# sx.bash — bash completion for the sx command (installed by meson install
# into share/bash-completion/completions/sx).
_sx() {
  local cur prev words cword
  _init_completion 2>/dev/null || { cur=${COMP_WORDS[COMP_CWORD]}; prev=${COMP_WORDS[COMP_CWORD-1]}; words=("${COMP_WORDS[@]}"); cword=$COMP_CWORD; }
  local opts="-I --store --sync --persist --help --version"
  case $prev in
    --store|-I) COMPREPLY=($(compgen -d -- "$cur")); return ;;
    --sync) COMPREPLY=($(compgen -W "full batch off" -- "$cur")); return ;;
    --format) COMPREPLY=($(compgen -W "json csv" -- "$cur")); return ;;
  esac
  local cmd="" sub="" i
  for ((i = 1; i < cword; i++)); do
    case ${words[i]} in
      --store|--sync|-I|--format|-n) ((i++)) ;;
      -*) ;;
      *) if [ -z "$cmd" ]; then cmd=${words[i]}; elif [ -z "$sub" ]; then sub=${words[i]}; fi ;;
    esac
  done
  case $cmd in
    "") COMPREPLY=($(compgen -W "run repl server store help $opts -e" -- "$cur")) ;;
    store) if [ -z "$sub" ]; then COMPREPLY=($(compgen -W "check compact dump load export backup tail" -- "$cur"))
           else COMPREPLY=($(compgen -d -W "--format -n -f --help" -- "$cur")); fi ;;
    help) COMPREPLY=($(compgen -W "run repl server store help" -- "$cur")) ;;
    server) COMPREPLY=($(compgen -W "--bridge --listen $opts" -- "$cur")) ;;
    repl) COMPREPLY=($(compgen -f -W "--read-only $opts" -- "$cur")) ;;
    *) COMPREPLY=($(compgen -f -W "$opts" -- "$cur")) ;;
  esac
}
complete -F _sx sx
