using System.CommandLine;
using System.Text.Json.Nodes;
using MiniDocker.Cli.Templates;
using MiniDocker.Images;
using MiniDocker.Images.Registry;

namespace MiniDocker.Cli.Commands;

/// <summary>`pull`, `tag`, `history`, `image pull|inspect|history|tag|prune`, and run's pull of a missing image.</summary>
public static class PullCommands
{
    public static IEnumerable<Command> Create() => [CreatePull("pull"), CreateTag("tag"), CreateHistory("history")];

    public static IEnumerable<Command> ImageSubcommands() =>
        [CreatePull("pull"), CreateTag("tag"), CreateHistory("history"), CreateInspect(), CreatePrune()];

    private static Command CreatePull(string verb)
    {
        var quiet = new Option<bool>("--quiet", "-q") { Description = "Suppress verbose output" };
        var reference = new Argument<string>("NAME[:TAG|@DIGEST]");
        var command = new Command(verb, "Download an image from a registry") { quiet, reference };
        // A failed pull exits 1, as Docker's CLI (`run`'s own pull of a missing image keeps 125, as Docker's run).
        command.SetAction(p => RegistryAuthCommands.AsCliFailure(() =>
        {
            Pull(p, p.GetValue(reference)!, p.GetValue(quiet) ? TextWriter.Null : Console.Out);
            // Docker's last line, also all that -q prints: the reference in full (docker.io/library/busybox:latest).
            Console.WriteLine(DistributionReference.Parse(p.GetValue(reference)!).ToString());
        }));
        return command;
    }

    /// <summary>Pulls <paramref name="reference"/> into the root's store, reporting to <paramref name="output"/>.</summary>
    public static ImageRecord Pull(ParseResult p, string reference, TextWriter output)
    {
        string root = Globals.StateRoot(p);
        var store = new ImageStore(root);
        var terminal = (output == Console.Out && !Console.IsOutputRedirected) || (output == Console.Error && !Console.IsErrorRedirected);
        var progress = terminal ? (IPullProgress)new TerminalProgress(output, TerminalWidth()) : new LineProgress(output);
        return new Puller(store, RegistryConfig.Load(root), progress).Pull(reference);
    }

    private static int TerminalWidth()
    {
        try
        {
            return Console.WindowWidth is > 20 and var width ? width : 80;
        }
        catch (IOException)
        {
            return 80;
        }
    }

    /// <summary>Docker's run: a reference not found locally is pulled first, announced on stderr.</summary>
    public static ImageRecord ResolveOrPull(ParseResult p, string reference)
    {
        var store = new ImageStore(Globals.StateRoot(p));
        if (store.TryResolve(reference) is { } local)
            return local;
        // An ID prefix or a malformed name is not something a registry could have; nor a registry the policy forbids
        // (one line, no "Unable to find" first: nothing is attempted).
        var parsed = DistributionReference.Parse(reference);
        if (!RegistryConfig.Load(Globals.StateRoot(p)).IsAllowed(parsed.Domain))
            throw new ImageException($"image '{reference}' not found locally, and registry {parsed.Domain} is not in allowed-registries (daemon.json)");
        Console.Error.WriteLine($"Unable to find image '{DistributionReference.Parse(reference).Familiar}' locally");
        Pull(p, reference, Console.Error);
        return store.Resolve(reference);
    }

    private static Command CreateTag(string verb)
    {
        var source = new Argument<string>("SOURCE_IMAGE[:TAG]");
        var target = new Argument<string>("TARGET_IMAGE[:TAG]");
        var command = new Command(verb, "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE") { source, target };
        command.SetAction(p =>
        {
            new ImageStore(Globals.StateRoot(p)).Tag(p.GetValue(source)!, p.GetValue(target)!);
            return 0;
        });
        return command;
    }

    private static Command CreateHistory(string verb)
    {
        var noTrunc = new Option<bool>("--no-trunc") { Description = "Don't truncate output" };
        var image = new Argument<string>("IMAGE");
        var command = new Command(verb, "Show the history of an image") { noTrunc, image };
        command.SetAction(p =>
        {
            var store = new ImageStore(Globals.StateRoot(p));
            var record = store.Resolve(p.GetValue(image)!);
            var history = store.RegistryConfigOf(record)?.History ?? [];
            Console.WriteLine($"{"IMAGE",-14}{"CREATED",-16}{"CREATED BY",-48}{"SIZE",-8}COMMENT");
            var now = DateTimeOffset.UtcNow;
            var first = true;
            foreach (var entry in Enumerable.Reverse(history))
            {
                var id = first ? record.ShortId : "<missing>";
                first = false;
                var by = (entry.CreatedBy ?? "").ReplaceLineEndings(" ");
                if (!p.GetValue(noTrunc) && by.Length > 45) by = by[..44] + "…";
                var created = entry.Created is { } c ? Runtime.Lifecycle.Humanize(now - c) + " ago" : "N/A";
                Console.WriteLine($"{id,-14}{created,-16}{by,-48}{(entry.EmptyLayer ? "0B" : "-"),-8}{entry.Comment}");
            }
            if (history.Count == 0)
                Console.WriteLine($"{record.ShortId,-14}{Runtime.Lifecycle.Humanize(now - record.Created) + " ago",-16}{"(imported)",-48}{ImageCommands.HumanSize(record.Size),-8}");
            return 0;
        });
        return command;
    }

    private static Command CreateInspect()
    {
        var format = new Option<string?>("--format", "-f") { Description = "Format output using a Go template" };
        var images = new Argument<string[]>("IMAGE") { Arity = ArgumentArity.OneOrMore };
        var command = new Command("inspect", "Display detailed information on one or more images") { format, images };
        command.SetAction(p =>
        {
            var store = new ImageStore(Globals.StateRoot(p));
            var all = store.List();
            var found = new List<JsonNode>();
            foreach (var reference in p.GetValue(images)!)
            {
                var image = store.Resolve(reference);
                found.Add(Describe(store, image, all));
            }
            return FormatOutput.Inspect(p.GetValue(format), found);
        });
        return command;
    }

    private static JsonObject Describe(ImageStore store, ImageRecord image, IReadOnlyList<ImageRecord> all)
    {
        var registry = store.RegistryConfigOf(image);
        var c = image.Config;
        var config = new JsonObject
        {
            ["User"] = c.User ?? "",
            ["ExposedPorts"] = c.ExposedPorts.Length == 0 ? null : new JsonObject(c.ExposedPorts.Select(e => KeyValuePair.Create(e, (JsonNode?)new JsonObject()))),
            ["Env"] = new JsonArray(c.Env.Select(e => (JsonNode?)e).ToArray()),
            ["Cmd"] = c.Cmd.Length == 0 ? null : new JsonArray(c.Cmd.Select(e => (JsonNode?)e).ToArray()),
            ["Entrypoint"] = c.Entrypoint.Length == 0 ? null : new JsonArray(c.Entrypoint.Select(e => (JsonNode?)e).ToArray()),
            ["WorkingDir"] = c.WorkingDir ?? "",
            ["Labels"] = c.Labels is null ? null : new JsonObject(c.Labels.Select(l => KeyValuePair.Create(l.Key, (JsonNode?)l.Value))),
            ["StopSignal"] = c.StopSignal,
            ["Volumes"] = c.Volumes is not { Length: > 0 } v ? null : new JsonObject(v.Select(e => KeyValuePair.Create(e, (JsonNode?)new JsonObject()))),
        };
        var diffIds = store.LayerDiffIds(image);
        return new JsonObject
        {
            ["Id"] = $"sha256:{image.Id}",
            ["RepoTags"] = new JsonArray(all.Where(r => r.Id == image.Id && r.Repository != ImageRecord.None)
                .Select(r => (JsonNode?)$"{r.Repository}:{r.Tag}").ToArray()),
            ["RepoDigests"] = new JsonArray(image.RepoDigests.Select(d => (JsonNode?)d).ToArray()),
            ["Created"] = (registry?.Created ?? image.Created).ToString("O"),
            ["Author"] = registry?.Author ?? "",
            ["Config"] = config,
            ["Architecture"] = registry?.Architecture ?? PlatformMatcher.Host().Architecture,
            ["Variant"] = registry?.Variant,
            ["Os"] = registry?.Os ?? "linux",
            ["Size"] = image.Size,
            ["RootFS"] = new JsonObject
            {
                ["Type"] = "layers",
                ["Layers"] = new JsonArray((diffIds ?? [$"sha256:{image.Id}"]).Select(d => (JsonNode?)d).ToArray()),
            },
        };
    }

    private static Command CreatePrune()
    {
        var all = new Option<bool>("--all", "-a") { Description = "Remove all unused images, not just dangling ones" };
        var force = new Option<bool>("--force", "-f") { Description = "Do not prompt for confirmation" };
        var command = new Command("prune", "Remove unused images") { all, force };
        command.SetAction(p =>
        {
            var store = new ImageStore(Globals.StateRoot(p));
            var users = ImageCommands.Users(p);
            var (untagged, deleted) = store.Prune(p.GetValue(all), users);
            if (untagged.Count + deleted.Count > 0)
                Console.WriteLine("Deleted Images:");
            foreach (var tag in untagged) Console.WriteLine($"untagged: {tag}");
            foreach (var id in deleted) Console.WriteLine($"deleted: sha256:{id}");
            return 0;
        });
        return command;
    }

    /// <summary>
    /// Without a terminal: one line per layer, its final state (Docker's pipe output less the intermediate states),
    /// in the manifest's order.
    /// </summary>
    private sealed class LineProgress(TextWriter output) : IPullProgress
    {
        private readonly object _lock = new();

        public void Status(string line)
        {
            lock (_lock) output.WriteLine(line);
        }

        public void Layer(string shortId, string status, long current, long total)
        {
            if (status is not ("Pull complete" or "Already exists"))
                return;
            lock (_lock) output.WriteLine($"{shortId}: {status}");
        }
    }

    /// <summary>
    /// On a terminal: one line per layer in the manifest's order, each rewritten in place by moving the cursor up to it
    /// (ANSI CSI A/B, erase line), as Docker draws it. Plain ANSI, not Spectre.Console: 0.57.2 is NativeAOT-clean (a
    /// Progress with three columns published without a trim or AOT warning), but its live display draws its own
    /// column-aligned table with Unicode bars and owns the console while it runs; Docker's text would need a custom
    /// column anyway, so the library would add a dependency (its test program alone was 3.4 MB) for the same ~40 lines.
    /// </summary>
    private sealed class TerminalProgress(TextWriter output, int width) : IPullProgress
    {
        private const int BarWidth = 50;
        private readonly object _lock = new();
        private readonly List<string> _order = [];
        private readonly Dictionary<string, long> _lastDraw = [];

        public void Status(string line)
        {
            lock (_lock)
            {
                output.WriteLine(line);
                output.Flush();
            }
        }

        public void Layer(string shortId, string status, long current, long total)
        {
            lock (_lock)
            {
                var text = status == "Downloading" && total > 0 ? $"{shortId}: Downloading {Bar(current, total, width)}" : $"{shortId}: {status}";
                if (text.Length > width - 1)
                    text = text[..(width - 1)]; // a wrapped line would throw the cursor arithmetic off
                var index = _order.IndexOf(shortId);
                if (index < 0)
                {
                    _order.Add(shortId);
                    output.WriteLine(text);
                    output.Flush();
                    return;
                }
                // Byte counts redraw a line at most every 100 ms; a change of state at once.
                var now = Environment.TickCount64;
                if (status == "Downloading" && current < total && now - _lastDraw.GetValueOrDefault(shortId, long.MinValue / 2) < 100)
                    return;
                _lastDraw[shortId] = now;
                var up = _order.Count - index;
                output.Write($"\x1b[{up}A\r\x1b[2K{text}\x1b[{up}B\r");
                output.Flush();
            }
        }

        /// <summary>
        /// Docker's progress text (its jsonmessage): a bar of 50 columns, '=' per 2% then '>', when the terminal is
        /// wider than 110 columns; then the counts, current right-aligned in 8.
        /// </summary>
        public static string Bar(long current, long total, int width)
        {
            var half = (int)Math.Clamp(current * 50 / Math.Max(1, total), 0, 50);
            var bar = width > 110 ? $"[{new string('=', half)}>{new string(' ', 50 - half)}] " : "";
            return $"{bar}{HumanSize(current),8}/{HumanSize(total)}";
        }

        /// <summary>Docker's units.HumanSize: decimal units, 4 significant digits (1.235MB, 3.4MB, 512B).</summary>
        public static string HumanSize(long bytes)
        {
            string[] units = ["B", "kB", "MB", "GB", "TB"];
            double value = bytes;
            var unit = 0;
            while (value >= 1000 && unit < units.Length - 1)
            {
                value /= 1000;
                unit++;
            }
            return value.ToString("G4", System.Globalization.CultureInfo.InvariantCulture) + units[unit];
        }
    }
}
