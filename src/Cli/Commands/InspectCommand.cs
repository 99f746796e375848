using System.CommandLine;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using MiniDocker.Runtime;

namespace MiniDocker.Cli.Commands;

/// <summary>`minidocker inspect CONTAINER...`: a JSON array in the shape of Docker's (the fields minidocker has).</summary>
public static class InspectCommand
{
    public static Command Create()
    {
        var containers = new Argument<string[]>("CONTAINER") { Arity = ArgumentArity.OneOrMore };
        var command = new Command("inspect", "Display detailed information on one or more containers") { containers };
        command.SetAction(p =>
        {
            var store = Globals.Containers(p);
            var lifecycle = new Lifecycle(store, []);
            var result = new JsonArray();
            int rc = 0;
            foreach (var reference in p.GetValue(containers)!)
            {
                try { result.Add((JsonNode)Describe(lifecycle.Find(reference), store, p)); }
                catch (ContainerException)
                {
                    Console.Error.WriteLine($"minidocker: no such object: {reference}");
                    rc = 1;
                }
            }
            using var stdout = Console.OpenStandardOutput();
            using (var writer = new Utf8JsonWriter(stdout, new JsonWriterOptions
                   { Indented = true, IndentSize = 4, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
                result.WriteTo(writer);
            stdout.WriteByte((byte)'\n');
            return rc;
        });
        return command;
    }

    public static JsonObject Describe(Lifecycle.Observed observed, ContainerStore store, ParseResult p)
    {
        var (entry, status) = observed;
        var c = entry.Config;
        var s = entry.State;
        string dir = store.DirectoryOf(c.Id);
        bool running = status == ContainerStatus.Running;
        return new JsonObject
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
                ["OOMKilled"] = false,
                ["Dead"] = false,
                ["Pid"] = running ? s.Pid : 0,
                ["ExitCode"] = s.ExitCode,
                ["Error"] = s.Error ?? "",
                ["StartedAt"] = Time(s.StartedAt),
                ["FinishedAt"] = Time(s.FinishedAt),
            },
            ["Image"] = "sha256:" + c.ImageId,
            ["ResolvConfPath"] = Path.Combine(dir, "resolv.conf"),
            ["HostnamePath"] = Path.Combine(dir, "hostname"),
            ["HostsPath"] = Path.Combine(dir, "hosts"),
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
            },
            ["Mounts"] = new JsonArray(),
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
            ["NetworkSettings"] = MiniDocker.Cli.NetworkSettings.For(p, c.Id),
        };
    }

    private static JsonArray Strings(IEnumerable<string> items) => new(items.Select(i => (JsonNode?)JsonValue.Create(i)).ToArray());

    // Docker's zero time for "never": 0001-01-01T00:00:00Z.
    private static string Time(DateTimeOffset? t) =>
        t is { } v ? v.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffffffZ") : "0001-01-01T00:00:00Z";
}
