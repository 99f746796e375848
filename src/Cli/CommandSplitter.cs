using System.CommandLine;

namespace MiniDocker.Cli;

/// <summary>
/// `run IMAGE CMD ARGS...` and `exec CONTAINER CMD ARGS...` must hand everything after the first positional argument
/// to the container untouched (`run busybox ls -la` is not minidocker's -l -a). System.CommandLine parses options
/// anywhere, so a "--" is inserted after that positional, the way Docker's parser stops at it.
/// </summary>
public static class CommandSplitter
{
    private static readonly HashSet<string> Verbs = ["run", "exec"];

    public static string[] Split(RootCommand root, string[] args)
    {
        var options = AllOptions(root).ToList();
        int i = SkipOptions(args, 0, options);
        if (i >= args.Length || !Verbs.Contains(args[i])) return args;
        var verb = root.Subcommands.First(c => c.Name == args[i]);
        var verbOptions = options.Concat(verb.Options).ToList();
        int positional = SkipOptions(args, i + 1, verbOptions);
        if (positional >= args.Length || args[positional] == "--") return args;
        return [.. args[..(positional + 1)], "--", .. args[(positional + 1)..]];
    }

    private static IEnumerable<Option> AllOptions(RootCommand root) => root.Options;

    /// <summary>Index of the first token that is not an option or an option's value.</summary>
    private static int SkipOptions(string[] args, int i, List<Option> options)
    {
        while (i < args.Length)
        {
            string a = args[i];
            if (a == "--" || !a.StartsWith('-') || a == "-") return i;
            if (a.Contains('=') && a.StartsWith("--", StringComparison.Ordinal)) { i++; continue; }
            var option = options.FirstOrDefault(o => o.Name == a || o.Aliases.Contains(a));
            if (option is not null) { i += TakesValue(option) ? 2 : 1; continue; }
            // Bundled short flags (-it, -dit) or a short option with its value attached (-p8080:80, -eA=B).
            if (!a.StartsWith("--", StringComparison.Ordinal) && a.Length > 2)
            {
                var first = options.FirstOrDefault(o => o.Aliases.Contains(a[..2]) || o.Name == a[..2]);
                i += first is not null && TakesValue(first) && a.Length == 2 ? 2 : 1;
                continue;
            }
            i++;
        }
        return i;
    }

    private static bool TakesValue(Option option) => option.ValueType != typeof(bool);
}
