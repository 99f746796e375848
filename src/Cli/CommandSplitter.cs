using System.CommandLine;

namespace MiniDocker.Cli;

/// <summary>Docker's reading of a command line, before System.CommandLine sees it.</summary>
/// <remarks>
/// `run IMAGE CMD ARGS...` and `exec CONTAINER CMD ARGS...` hand everything after the first positional argument to the
/// container untouched (`run busybox ls -la` is not minidocker's -l -a): a "--" is inserted after that positional, the
/// way Docker's parser stops at it. Unknown verbs and flags before that point are refused with Docker's words
/// ("'foo' is not a minidocker command", "unknown flag: --bogus"): System.CommandLine would otherwise read an unknown
/// flag as the image's name.
/// </remarks>
public static class CommandSplitter
{
    private static readonly HashSet<string> Verbs = ["run", "exec"];

    /// <summary>The first word after the global options (the verb), or null when there is none or the global options
    /// themselves are wrong (then <see cref="Split"/> says what is wrong, with every verb built).</summary>
    public static string? VerbOf(RootCommand root, string[] args)
    {
        try
        {
            int i = SkipOptions(args, 0, root.Options.ToList(), "");
            return i < args.Length && !args[i].StartsWith('-') ? args[i] : null;
        }
        catch (UsageException) { return null; }
    }

    public static string[] Split(RootCommand root, string[] args)
    {
        var globals = root.Options.ToList();
        int i = SkipOptions(args, 0, globals, "");
        if (i >= args.Length) return args;

        // Walk down the verb groups (network create, image rm, system prune...).
        Command command = root;
        var path = new List<string>();
        var options = new List<Option>(globals);
        while (i < args.Length && !args[i].StartsWith('-'))
        {
            var sub = command.Subcommands.FirstOrDefault(c => c.Name == args[i] || c.Aliases.Contains(args[i]));
            if (sub is null)
            {
                if (command == root || command.Subcommands.Count > 0 && command.Arguments.Count == 0)
                    throw new UsageException($"'{string.Join(' ', path.Append(args[i]))}' is not a minidocker command", path);
                break;
            }
            command = sub;
            path.Add(sub.Name);
            options.AddRange(sub.Options);
            i = SkipOptions(args, i + 1, options, string.Join(' ', path));
        }

        // `network --help` is the group's help (Docker), not a missing subcommand.
        if (command.Subcommands.Count > 0 && command.Arguments.Count == 0 && command.Action is null && i >= args.Length
            && !args.Any(a => a is "--help" or "-?"))
            throw new UsageException($"'minidocker {string.Join(' ', path)}' requires a subcommand", path);

        if (path.Count == 1 && Verbs.Contains(path[0]))
        {
            // i is the image (or container); what follows it is the program's.
            if (i >= args.Length || args[i] == "--") return args;
            return [.. args[..(i + 1)], "--", .. args[(i + 1)..]];
        }

        // Other verbs: every flag anywhere before "--" must be known.
        for (int j = i; j < args.Length; j++)
        {
            if (args[j] == "--") break;
            if (args[j].StartsWith('-') && args[j] != "-") j = SkipOptions(args, j, options, string.Join(' ', path)) - 1;
        }
        return args;
    }

    /// <summary>Index of the first token that is not an option or an option's value; throws on an unknown option.</summary>
    private static int SkipOptions(string[] args, int i, List<Option> options, string verb)
    {
        while (i < args.Length)
        {
            string a = args[i];
            if (a == "--" || !a.StartsWith('-') || a == "-") return i;
            if (a.StartsWith("--", StringComparison.Ordinal) && a.Contains('='))
            {
                Find(options, a[..a.IndexOf('=')], verb);
                i++;
                continue;
            }
            var option = options.FirstOrDefault(o => o.Name == a || o.Aliases.Contains(a));
            if (option is not null) { i += TakesValue(option) ? 2 : 1; continue; }
            if (a.StartsWith("--", StringComparison.Ordinal)) throw Unknown(a, verb);
            // Bundled short flags (-it, -dit) or a short option with its value attached (-p8080:80, -eA=B).
            for (int k = 1; k < a.Length; k++)
            {
                var flag = Find(options, "-" + a[k], verb, shorthand: a[k]);
                if (TakesValue(flag))
                {
                    if (k == a.Length - 1) i++; // -dp 8080:80: the value is the next token
                    break;
                }
            }
            i++;
        }
        return i;
    }

    private static Option Find(List<Option> options, string name, string verb, char? shorthand = null) =>
        options.FirstOrDefault(o => o.Name == name || o.Aliases.Contains(name))
        ?? throw (shorthand is { } c ? new UsageException($"unknown shorthand flag: '{c}' in {name}", verb) : Unknown(name, verb));

    private static UsageException Unknown(string flag, string verb) => new($"unknown flag: {flag}", verb);

    private static bool TakesValue(Option option) => option.ValueType != typeof(bool);
}

/// <summary>A command line Docker would refuse: printed with the usage hint, exit 125.</summary>
public sealed class UsageException(string message, string verb) : MiniDocker.Linux.MiniDockerException(message)
{
    public UsageException(string message, IEnumerable<string> path) : this(message, string.Join(' ', path)) { }

    public string Hint => Verb.Length == 0 ? "See 'minidocker --help'." : $"See 'minidocker {Verb} --help'.";
    public string Verb { get; } = verb;
}
