using System.CommandLine;
using MiniDocker.Network;
using MiniDocker.Network.Topology;
using MiniDocker.Runtime;
using MiniDocker.Runtime.Native;

namespace MiniDocker.Cli.Commands;

/// <summary>`network inspect NAME --graph [--format text|dot|svg]`: the live topology, read from the kernel.</summary>
public static class NetworkGraphCommand
{
    public static readonly Option<bool> Graph = new("--graph")
    {
        Description = "Draw the live topology read from the kernel (links, addresses, routes, NAT rules, counters); " +
                      "--format text (default), dot (Graphviz) or svg",
    };

    public static int Run(ParseResult p, IReadOnlyList<string> names, string? format)
    {
        format ??= "text";
        if (format is not ("text" or "dot" or "svg"))
            throw new UsageException($"--graph takes --format text, dot or svg, not '{format}'", "network inspect");
        foreach (var name in names)
        {
            var view = Read(p, name);
            string dot = format == "text" ? "" : TopologyRenderer.Dot(view);
            Console.Write(format switch
            {
                "text" => TopologyRenderer.Text(view),
                "dot" => dot,
                _ => GraphvizRenderer.Svg(dot),
            });
        }
        return 0;
    }

    /// <summary>The network's topology from the kernel; the state only says which containers to look for.</summary>
    public static TopologyView Read(ParseResult p, string name)
    {
        var manager = Globals.Networks(p);
        var record = manager.Get(name);
        // The graph is of a bridge, its veths and NAT: a macvlan/ipvlan network has none of them on the host.
        if (record.Driver != NetworkStore.BridgeDriver)
            throw new NetworkException($"--graph shows bridge networks; {record.Name} is a {record.Driver} network (see `network inspect {record.Name}`)");
        var containers = Globals.Containers(p).List().ToDictionary(c => c.Config.Id);
        var attached = manager.Endpoints(record.Name).Select(e =>
        {
            var entry = containers.GetValueOrDefault(e.ContainerId);
            // The recorded pid only if it is still the container's (its start time): a reused pid's namespace is not it.
            int pid = entry is { State.Status: ContainerStatus.Running } && ProcessHandle.IsAlive(entry.State.Pid, entry.State.PidStartTime)
                ? entry.State.Pid : 0;
            return new AttachedContainer(e, entry?.Config.Name ?? e.ContainerId, pid);
        }).ToList();
        return TopologyReader.Read(record, attached);
    }
}
