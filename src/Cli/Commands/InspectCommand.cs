using System.CommandLine;
using System.Text.Json.Nodes;
using MiniDocker.Cli.Templates;
using MiniDocker.Runtime;

namespace MiniDocker.Cli.Commands;

/// <summary>`minidocker inspect [-f TEMPLATE] CONTAINER...`: a JSON array in the shape of Docker's (the fields minidocker
/// has), or a Go template rendered for each container, one line each.</summary>
public static class InspectCommand
{
    public static Command Create()
    {
        var format = new Option<string?>("--format", "-f")
        {
            Description = "Format output using a custom template: 'json' (default) or a Go template, e.g. '{{.State.Pid}}'",
        };
        var containers = new Argument<string[]>("CONTAINER") { Arity = ArgumentArity.OneOrMore };
        var command = new Command("inspect", "Display detailed information on one or more containers") { format, containers };
        command.SetAction(p =>
        {
            var store = Globals.Containers(p);
            var lifecycle = LifecycleVerbs.WithLazyHooks(p);
            var found = new List<JsonNode>();
            int rc = 0;
            foreach (var reference in p.GetValue(containers)!)
            {
                try { found.Add(Describe(lifecycle.Find(reference), store, p)); }
                catch (NoSuchContainerException)
                {
                    Console.Error.WriteLine($"minidocker: no such object: {reference}");
                    rc = 1;
                }
                catch (ContainerException e) // an ambiguous prefix, an empty name: say which
                {
                    Console.Error.WriteLine($"minidocker: {e.Message}");
                    rc = 1;
                }
            }
            int formatted = FormatOutput.Inspect(p.GetValue(format), found);
            return formatted != 0 ? formatted : rc;
        });
        return command;
    }

    public static JsonObject Describe(Lifecycle.Observed observed, ContainerStore store, ParseResult p)
    {
        var (entry, status) = observed;
        var c = entry.Config;
        var s = entry.State;
        var files = new ContainerContext(c, store.DirectoryOf(c.Id), 0);
        bool running = status == ContainerStatus.Running;
        var described = new JsonObject
        {
            ["Id"] = c.Id,
            ["Created"] = Time(c.Created),
            ["Path"] = c.Args.FirstOrDefault() ?? "",
            ["Args"] = Strings(c.Args.Skip(1)),
            ["State"] = new JsonObject
            {
                ["Status"] = status.ToString().ToLowerInvariant(),
                ["Running"] = running,
                ["Paused"] = false,
                ["Restarting"] = status == ContainerStatus.Restarting,
                ["OOMKilled"] = s.OomKilled,
                ["Dead"] = false,
                ["Pid"] = running ? s.Pid : 0,
                ["ExitCode"] = s.ExitCode,
                ["Error"] = s.Error ?? "",
                ["StartedAt"] = Time(s.StartedAt),
                ["FinishedAt"] = Time(s.FinishedAt),
            },
            ["Image"] = "sha256:" + c.ImageId,
            ["ResolvConfPath"] = files.ResolvConfPath,
            ["HostnamePath"] = files.HostnamePath,
            ["HostsPath"] = files.HostsPath,
            ["LogPath"] = ContainerLog.PathOf(store, c.Id),
            ["Name"] = "/" + c.Name,
            ["RestartCount"] = s.RestartCount,
            ["HostConfig"] = new JsonObject
            {
                ["NetworkMode"] = c.NetworkMode,
                ["RestartPolicy"] = new JsonObject
                {
                    ["Name"] = c.RestartPolicy.Name,
                    ["MaximumRetryCount"] = c.RestartPolicy.MaximumRetryCount,
                },
                ["AutoRemove"] = c.AutoRemove,
                ["Memory"] = c.Resources.Memory,
                ["MemoryReservation"] = c.Resources.MemoryReservation,
                ["MemorySwap"] = c.Resources.MemorySwap,
                ["NanoCpus"] = c.Resources.NanoCpus,
                ["CpuShares"] = c.Resources.CpuShares,
                ["CpusetCpus"] = c.Resources.CpusetCpus,
                ["CpusetMems"] = c.Resources.CpusetMems,
                ["PidsLimit"] = c.Resources.PidsLimit,
                // Docker: null without --ulimit, else [{"Name","Hard","Soft"}].
                ["Ulimits"] = c.Ulimits.Count == 0 ? null
                    : new JsonArray(c.Ulimits.Select(u => (JsonNode?)new JsonObject { ["Name"] = u.Name, ["Hard"] = u.Hard, ["Soft"] = u.Soft }).ToArray()),
            },
            ["Mounts"] = VolumeCommands.MountsOf(c),
            ["Config"] = new JsonObject
            {
                ["Hostname"] = c.Hostname,
                ["Tty"] = c.Tty,
                ["OpenStdin"] = c.Interactive,
                ["Env"] = Strings(c.Env),
                ["Cmd"] = Strings(c.Args),
                ["Image"] = c.Image,
                ["WorkingDir"] = c.WorkingDir,
            },
            ["NetworkSettings"] = WithDefaultNetworkAtTop(MiniDocker.Cli.NetworkSettings.For(p, c.Id), c.NetworkMode),
        };
        VolumeCommands.AddHostConfig((JsonObject)described["HostConfig"]!, c);
        AddUserns((JsonObject)described["HostConfig"]!, c, s);
        return described;
    }

    /// <summary>Docker's HostConfig.UsernsMode ("" when not given) and, as Podman shows it, the range of a
    /// --userns=auto container ("CONTAINER:HOST:SIZE"; null before its first start allocated one).</summary>
    private static void AddUserns(JsonObject hostConfig, ContainerConfig c, ContainerState s)
    {
        hostConfig["UsernsMode"] = c.UsernsMode ?? "";
        hostConfig["IDMappings"] = s.IdMapping is not { } ids ? null : new JsonObject
        {
            ["UidMap"] = new JsonArray(JsonValue.Create($"0:{ids.HostUid}:{ids.Size}")),
            ["GidMap"] = new JsonArray(JsonValue.Create($"0:{ids.HostGid}:{ids.Size}")),
        };
    }

    /// <summary>
    /// Docker's NetworkSettings: IPAddress, Gateway, IPPrefixLen and MacAddress at the top are the default "bridge"
    /// network's (empty when not on it), which scripts read as `{{.NetworkSettings.IPAddress}}`; and Networks always
    /// names the container's network, with empty addresses while it is not running.
    /// </summary>
    private static JsonObject WithDefaultNetworkAtTop(JsonObject settings, string networkMode)
    {
        var networks = settings["Networks"]?.DeepClone() as JsonObject ?? new JsonObject();
        if (!networks.ContainsKey(networkMode))
            networks[networkMode] = new JsonObject { ["IPAddress"] = "", ["IPPrefixLen"] = 0, ["Gateway"] = "", ["MacAddress"] = "" };
        var bridge = networks[Network.NetworkStore.DefaultNetworkName] as JsonObject;
        JsonNode Of(string key, JsonNode empty) => bridge?[key]?.DeepClone() ?? empty;
        var result = new JsonObject
        {
            ["Ports"] = settings["Ports"]?.DeepClone() ?? new JsonObject(),
            ["Gateway"] = Of("Gateway", ""),
            ["IPAddress"] = Of("IPAddress", ""),
            ["IPPrefixLen"] = Of("IPPrefixLen", 0),
            ["MacAddress"] = Of("MacAddress", ""),
        };
        foreach (var (key, value) in settings)
            if (!result.ContainsKey(key) && key != "Networks") result[key] = value?.DeepClone();
        result["Networks"] = networks;
        return result;
    }

    private static JsonArray Strings(IEnumerable<string> items) => new(items.Select(i => (JsonNode?)JsonValue.Create(i)).ToArray());

    // Docker's zero time for "never": 0001-01-01T00:00:00Z.
    private static string Time(DateTimeOffset? t) =>
        t is { } v ? v.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffffffZ") : "0001-01-01T00:00:00Z";
}
