using System.CommandLine;
using System.Text.Json.Nodes;
using MiniDocker.Cli.Templates;
using MiniDocker.Runtime;
using MiniDocker.Runtime.Volumes;

namespace MiniDocker.Cli.Commands;

/// <summary>`minidocker volume create|ls|inspect|rm|prune` (the "local" driver, as Docker's), and inspect's Mounts.</summary>
public static class VolumeCommands
{
    private static readonly Dictionary<string, string> Headers = new()
    {
        ["Driver"] = "DRIVER", ["Name"] = "VOLUME NAME", ["Mountpoint"] = "MOUNTPOINT", ["Scope"] = "SCOPE", ["Labels"] = "LABELS",
        ["CreatedAt"] = "CREATED AT",
    };

    private static VolumeStore Store(ParseResult p) => new(Globals.StateRoot(p));

    private static IEnumerable<ContainerConfig> Containers(ParseResult p) => Globals.Containers(p).List().Select(e => e.Config);

    public static Command Create()
    {
        var volume = new Command("volume", "Manage volumes");

        var name = new Argument<string?>("VOLUME") { Arity = ArgumentArity.ZeroOrOne };
        var labels = new Option<string[]>("--label") { Description = "Set metadata for a volume (KEY=VALUE)" };
        var driver = new Option<string>("--driver", "-d") { Description = "Volume driver name", DefaultValueFactory = _ => "local" };
        var create = new Command("create", "Create a volume") { name, labels, driver };
        create.SetAction(p =>
        {
            if (p.GetValue(driver) != "local") throw new VolumeException($"volume driver {p.GetValue(driver)} is not supported: only \"local\"");
            var labelMap = new Dictionary<string, string>();
            foreach (var l in p.GetValue(labels) ?? [])
            {
                var kv = l.Split('=', 2);
                labelMap[kv[0]] = kv.Length == 2 ? kv[1] : "";
            }
            Console.WriteLine(Store(p).Create(p.GetValue(name), labelMap).Name);
            return 0;
        });

        var quiet = new Option<bool>("--quiet", "-q") { Description = "Only display volume names" };
        var lsFormat = new Option<string?>("--format") { Description = "Format output: table, json, table TEMPLATE or a Go TEMPLATE" };
        var ls = new Command("ls", "List volumes") { quiet, lsFormat };
        ls.Aliases.Add("list");
        ls.SetAction(p =>
        {
            var store = Store(p);
            var rows = store.List().Select(v => Row(store, v)).ToList();
            string? format = p.GetValue(quiet) ? "{{.Name}}" : p.GetValue(lsFormat);
            return FormatOutput.List(format, rows, "table {{.Driver}}\t{{.Name}}", Headers);
        });

        var names = new Argument<string[]>("VOLUME") { Arity = ArgumentArity.OneOrMore };
        var inspectFormat = new Option<string?>("--format", "-f") { Description = "Format output with a Go TEMPLATE, or json" };
        var inspect = new Command("inspect", "Display detailed information on one or more volumes") { names, inspectFormat };
        inspect.SetAction(p =>
        {
            var store = Store(p);
            var found = new List<JsonNode>();
            int rc = 0;
            foreach (var n in p.GetValue(names)!)
            {
                if (store.TryGet(n) is { } v) found.Add(Inspect(store, v));
                else
                {
                    Console.Error.WriteLine($"minidocker: get {n}: no such volume");
                    rc = 1;
                }
            }
            int formatted = FormatOutput.Inspect(p.GetValue(inspectFormat), found);
            return formatted != 0 ? formatted : rc;
        });

        var force = new Option<bool>("--force", "-f") { Description = "Do not error on a volume that does not exist" };
        var rmNames = new Argument<string[]>("VOLUME") { Arity = ArgumentArity.OneOrMore };
        var rm = new Command("rm", "Remove one or more volumes (refused while a container uses one)") { force, rmNames };
        rm.Aliases.Add("remove");
        rm.SetAction(p =>
        {
            var store = Store(p);
            int rc = 0;
            foreach (var n in p.GetValue(rmNames)!)
            {
                try
                {
                    store.Remove(n, p.GetValue(force), () => Containers(p));
                    Console.WriteLine(n);
                }
                catch (VolumeException e)
                {
                    Console.Error.WriteLine($"minidocker: {e.Message}");
                    rc = e.ExitCode;
                }
            }
            return rc;
        });

        var pruneForce = new Option<bool>("--force", "-f") { Description = "Do not prompt for confirmation" };
        var all = new Option<bool>("--all", "-a") { Description = "Remove all unused volumes, not just anonymous ones" };
        var prune = new Command("prune", "Remove unused anonymous volumes (with -a: every unused volume)") { pruneForce, all };
        prune.SetAction(p =>
        {
            if (!p.GetValue(pruneForce))
            {
                Console.Write(p.GetValue(all)
                    ? "WARNING! This will remove all local volumes not used by at least one container.\nAre you sure you want to continue? [y/N] "
                    : "WARNING! This will remove anonymous local volumes not used by at least one container.\nAre you sure you want to continue? [y/N] ");
                if (Console.ReadLine()?.Trim().ToLowerInvariant() is not ("y" or "yes")) return 0;
            }
            var (removed, bytes) = Store(p).Prune(p.GetValue(all), () => Containers(p));
            if (removed.Count > 0)
            {
                Console.WriteLine("Deleted Volumes:");
                foreach (var n in removed) Console.WriteLine(n);
                Console.WriteLine();
            }
            Console.WriteLine($"Total reclaimed space: {ImageCommands.HumanSize(bytes)}");
            return 0;
        });

        volume.Subcommands.Add(create);
        volume.Subcommands.Add(ls);
        volume.Subcommands.Add(inspect);
        volume.Subcommands.Add(rm);
        volume.Subcommands.Add(prune);
        return volume;
    }

    private static JsonObject Row(VolumeStore store, VolumeRecord v) => new()
    {
        ["Driver"] = "local", ["Name"] = v.Name, ["Mountpoint"] = store.DataPath(v.Name), ["Scope"] = "local",
        ["Labels"] = string.Join(",", v.Labels.Select(kv => $"{kv.Key}={kv.Value}")),
        ["CreatedAt"] = v.CreatedAt.ToString("yyyy-MM-ddTHH:mm:ssK"),
    };

    private static JsonObject Inspect(VolumeStore store, VolumeRecord v)
    {
        var labels = new JsonObject();
        foreach (var (k, value) in v.Labels) labels[k] = value;
        return new JsonObject
        {
            ["CreatedAt"] = v.CreatedAt.ToString("yyyy-MM-ddTHH:mm:ssK"),
            ["Driver"] = "local",
            ["Labels"] = labels,
            ["Mountpoint"] = store.DataPath(v.Name),
            ["Name"] = v.Name,
            ["Options"] = null,
            ["Scope"] = "local",
        };
    }

    /// <summary>inspect's "Mounts", in Docker's shape (--tmpfs is listed under HostConfig.Tmpfs instead, as Docker does).</summary>
    public static JsonArray MountsOf(ContainerConfig c)
    {
        var result = new JsonArray();
        foreach (var m in c.Mounts.Where(m => !m.FromTmpfsFlag))
        {
            var o = new JsonObject { ["Type"] = MountParser.TypeName(m.Type) };
            if (m.IsVolume) o["Name"] = m.Source;
            o["Source"] = m.HostPath;
            o["Destination"] = m.Target;
            if (m.IsVolume) o["Driver"] = "local";
            o["Mode"] = m.Mode.Length > 0 ? m.Mode : m.IsVolume ? "z" : "";
            o["RW"] = !m.ReadOnly;
            o["Propagation"] = m.Type == MountType.Bind ? m.Propagation : "";
            result.Add((JsonNode)o);
        }
        return result;
    }

    /// <summary>HostConfig's Binds, Tmpfs, ReadonlyRootfs and Init, as Docker shows them.</summary>
    public static void AddHostConfig(JsonObject hostConfig, ContainerConfig c)
    {
        var binds = new JsonArray();
        foreach (var m in c.Mounts.Where(m => m.Type != MountType.Tmpfs && m.CreateMissingSource && !m.Anonymous))
            binds.Add((JsonNode)JsonValue.Create($"{m.Source}:{m.Target}" + (m.Mode.Length > 0 ? ":" + m.Mode : "")));
        var tmpfs = new JsonObject();
        foreach (var m in c.Mounts.Where(m => m.FromTmpfsFlag)) tmpfs[m.Target] = m.TmpfsData;
        hostConfig["Binds"] = binds.Count > 0 ? binds : null;
        hostConfig["Tmpfs"] = tmpfs.Count > 0 ? tmpfs : null;
        hostConfig["ReadonlyRootfs"] = c.ReadOnlyRootfs;
        hostConfig["Init"] = c.Init ? true : null;
    }
}
