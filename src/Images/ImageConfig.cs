using System.Text;
using System.Text.Json;

namespace MiniDocker.Images;

/// <summary>How a container of this image starts, as set by <c>image import -c</c>.</summary>
public sealed record ImageConfig(string[] Cmd, string[] Entrypoint, string[] Env, string? WorkingDir, string[] ExposedPorts,
    string? User = null, string? StopSignal = null, IReadOnlyDictionary<string, string>? Labels = null,
    string[]? Volumes = null)
{
    public static ImageConfig Empty { get; } = new([], [], [], null, []);

    /// <summary>
    /// Applies Docker's <c>--change</c> subset, in order: CMD and ENTRYPOINT (JSON array, or shell form run by
    /// /bin/sh -c), ENV (K=V pairs, or the legacy "K V"), WORKDIR (relative paths extend the previous one) and
    /// EXPOSE (port[/tcp|/udp]) and VOLUME (JSON array or paths).
    /// </summary>
    public static ImageConfig FromChanges(IReadOnlyList<string> changes)
    {
        var config = Empty;
        foreach (var change in changes)
            config = config.Apply(change);
        return config;
    }

    /// <summary>This config with <paramref name="changes"/> applied in order (commit -c starts from the image's).</summary>
    public ImageConfig WithChanges(IReadOnlyList<string> changes)
    {
        var config = this;
        foreach (var change in changes)
            config = config.Apply(change);
        return config;
    }

    private ImageConfig Apply(string change)
    {
        var trimmed = change.Trim();
        var split = trimmed.IndexOfAny([' ', '\t']);
        var instruction = (split < 0 ? trimmed : trimmed[..split]).ToUpperInvariant();
        var argument = split < 0 ? "" : trimmed[(split + 1)..].Trim();
        if (instruction.Length == 0)
            throw new ImageException("empty change: expected CMD, ENTRYPOINT, ENV, WORKDIR, EXPOSE or VOLUME");
        if (argument.Length == 0 && instruction is "CMD" or "ENTRYPOINT" or "ENV" or "WORKDIR" or "EXPOSE" or "VOLUME")
            throw new ImageException($"change '{change}': {instruction} needs an argument");

        return instruction switch
        {
            "CMD" => this with { Cmd = CommandLine(argument) },
            "ENTRYPOINT" => this with { Entrypoint = CommandLine(argument) },
            "ENV" => this with { Env = MergeEnv(Env, EnvPairs(argument, change)) },
            "WORKDIR" => this with { WorkingDir = argument.StartsWith('/') ? argument : Path.Join(WorkingDir ?? "/", argument) },
            "EXPOSE" => this with { ExposedPorts = ExposedPorts.Concat(Ports(argument, change)).Distinct().ToArray() },
            "VOLUME" => this with { Volumes = (Volumes ?? []).Concat(VolumePaths(argument, change)).Distinct().ToArray() },
            _ => throw new ImageException(
                $"change '{change}': unsupported instruction '{instruction}' (allowed: CMD, ENTRYPOINT, ENV, WORKDIR, EXPOSE, VOLUME)"),
        };
    }

    /// <summary>Exec form when the argument is a JSON array of strings; otherwise shell form, as Docker does.</summary>
    private static string[] CommandLine(string argument)
    {
        if (argument.StartsWith('['))
        {
            try
            {
                using var json = JsonDocument.Parse(argument);
                if (json.RootElement.ValueKind == JsonValueKind.Array &&
                    json.RootElement.EnumerateArray().All(e => e.ValueKind == JsonValueKind.String))
                    return json.RootElement.EnumerateArray().Select(e => e.GetString()!).ToArray();
            }
            catch (JsonException)
            {
                // Not JSON: Docker falls back to the shell form, and so do we.
            }
        }
        return ["/bin/sh", "-c", argument];
    }

    private static IEnumerable<(string Key, string Value)> EnvPairs(string argument, string change)
    {
        var words = ShellWords(argument, change);
        if (!words[0].Contains('='))
        {
            // Legacy form "ENV KEY value with spaces": everything after the first word is the value.
            var key = words[0];
            var rest = argument[argument.IndexOfAny([' ', '\t'])..].Trim();
            if (rest.Length == 0)
                throw new ImageException($"change '{change}': ENV needs KEY=VALUE");
            return [(key, string.Join(' ', ShellWords(rest, change)))];
        }
        return words.Select(word =>
        {
            var eq = word.IndexOf('=');
            if (eq <= 0)
                throw new ImageException($"change '{change}': ENV expects KEY=VALUE pairs, got '{word}'");
            return (word[..eq], word[(eq + 1)..]);
        }).ToList();
    }

    private static string[] MergeEnv(string[] current, IEnumerable<(string Key, string Value)> pairs)
    {
        var merged = current.ToList();
        foreach (var (key, value) in pairs)
        {
            merged.RemoveAll(e => e.StartsWith(key + "=", StringComparison.Ordinal));
            merged.Add($"{key}={value}");
        }
        return merged.ToArray();
    }

    private static IEnumerable<string> Ports(string argument, string change) =>
        argument.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries).Select(spec =>
        {
            var slash = spec.IndexOf('/');
            var port = slash < 0 ? spec : spec[..slash];
            var protocol = slash < 0 ? "tcp" : spec[(slash + 1)..].ToLowerInvariant();
            if (!ushort.TryParse(port, out var number) || number == 0 || protocol is not ("tcp" or "udp"))
                throw new ImageException($"change '{change}': invalid port '{spec}' (expected 1-65535[/tcp|/udp])");
            return $"{number}/{protocol}";
        }).ToList();

    /// <summary>VOLUME ["/a", "/b"] or VOLUME /a /b: absolute paths (a container gets an anonymous volume at each).</summary>
    private static List<string> VolumePaths(string argument, string change)
    {
        var paths = argument.StartsWith('[') ? CommandLine(argument) : ShellWords(argument, change).ToArray();
        if (paths is ["/bin/sh", "-c", _]) throw new ImageException($"change '{change}': VOLUME expects a JSON array of strings or paths");
        foreach (var path in paths)
            if (!path.StartsWith('/') || path.Contains(':'))
                throw new ImageException($"change '{change}': volume path '{path}' must be absolute and contain no ':'");
        return paths.ToList();
    }

    /// <summary>Splits on unquoted whitespace, honouring "double" and 'single' quotes and backslash escapes.</summary>
    private static List<string> ShellWords(string text, string change)
    {
        var words = new List<string>();
        var word = new StringBuilder();
        var inWord = false;
        char? quote = null;
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (quote is null && char.IsWhiteSpace(c))
            {
                if (inWord)
                    words.Add(word.ToString());
                word.Clear();
                inWord = false;
                continue;
            }
            inWord = true;
            if (c == '\\' && quote != '\'' && i + 1 < text.Length)
                word.Append(text[++i]);
            else if (quote is null && c is '"' or '\'')
                quote = c;
            else if (c == quote)
                quote = null;
            else
                word.Append(c);
        }
        if (quote is not null)
            throw new ImageException($"change '{change}': unterminated {quote} quote");
        if (inWord)
            words.Add(word.ToString());
        return words;
    }
}
