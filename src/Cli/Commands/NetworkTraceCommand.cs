using System.CommandLine;
using System.Net;
using System.Runtime.InteropServices;
using MiniDocker.Network;
using MiniDocker.Network.Topology;
using MiniDocker.Runtime;
using MiniDocker.Runtime.Native;

namespace MiniDocker.Cli.Commands;

/// <summary>
/// `network trace [CONTAINER] --to IP:PORT [--proto tcp|udp]`: one probe and the path it took through netfilter
/// (nftables tracing), the DNAT rewrite, the bridge port and veth it crossed, and where it was dropped.
/// Probes go only to this root's container addresses or to loopback (a published port): never off the machine.
/// </summary>
public static class NetworkTraceCommand
{
    public static Command Create()
    {
        var source = new Argument<string?>("CONTAINER") { Arity = ArgumentArity.ZeroOrOne, Description = "Send the probe from this container (default: from the host)" };
        var to = new Option<string>("--to") { Description = "Destination IP:PORT: a container's address, or 127.0.0.1:HOSTPORT for a published port", Required = true };
        var proto = new Option<string>("--proto") { Description = "tcp or udp", DefaultValueFactory = _ => "tcp" };
        var timeout = new Option<double>("--timeout") { Description = "Seconds to wait for an answer", DefaultValueFactory = _ => 2 };
        var trace = new Command("trace", "Send one probe and print the path it took: chains and rules hit, DNAT, bridge and veth, drops")
            { source, to, proto, timeout };
        trace.SetAction(p =>
        {
            string protocol = p.GetValue(proto)!;
            if (protocol is not ("tcp" or "udp")) throw new UsageException($"--proto must be tcp or udp, not '{protocol}'", "network trace");
            if (!IPEndPoint.TryParse(p.GetValue(to)!, out var destination) || destination.Port == 0 ||
                destination.AddressFamily != System.Net.Sockets.AddressFamily.InterNetwork)
                throw new UsageException($"--to must be an IPv4 IP:PORT, not '{p.GetValue(to)}'", "network trace");
            var manager = Globals.Networks(p);
            var containers = Globals.Containers(p);
            var endpoints = manager.Endpoints();
            var byIp = endpoints.Where(e => e.IP.Equals(destination.Address)).ToList();
            if (!IPAddress.IsLoopback(destination.Address) && byIp.Count == 0)
                throw new NetworkException($"{destination.Address} is not a container address of this root nor loopback: trace probes stay on this machine");

            string? sourceNetns = null;
            string sourceLabel = "host";
            if (p.GetValue(source) is { } reference)
            {
                var entry = containers.Find(reference);
                if (entry.State.Status != ContainerStatus.Running || !ProcessHandle.IsAlive(entry.State.Pid, entry.State.PidStartTime)) throw new ContainerException($"container {entry.Config.Name} is not running: nothing to send a probe from");
                sourceNetns = $"/proc/{entry.State.Pid}/ns/net";
                sourceLabel = entry.Config.Name;
                if (IPAddress.IsLoopback(destination.Address))
                    throw new NetworkException("from a container, 127.0.0.1 is the container's own loopback: trace to a container address instead");
            }
            // Where the probe should land: the container with that address, or the one publishing that host port.
            var target = byIp.FirstOrDefault() ?? endpoints.FirstOrDefault(e =>
                e.Ports.Any(m => m.HostPort == destination.Port && m.Protocol == protocol));
            string? targetNetns = null;
            string targetLabel = "target";
            string? crossing = null;
            if (target is not null)
            {
                var entry = containers.List().FirstOrDefault(c => c.Config.Id == target.ContainerId);
                targetLabel = entry?.Config.Name ?? target.ContainerId;
                if (entry is { State.Status: ContainerStatus.Running } && ProcessHandle.IsAlive(entry.State.Pid, entry.State.PidStartTime)) targetNetns = $"/proc/{entry.State.Pid}/ns/net";
                var network = manager.Get(target.Network);
                if (network.Driver != NetworkStore.BridgeDriver)
                    throw new NetworkException($"network trace follows bridge networks; {network.Name} is a {network.Driver} network, reached on its parent's LAN");
                crossing = $"bridge {network.Bridge} (gateway {network.Gateway}) -> bridge port {target.HostVeth} " +
                           $"==veth==> {target.ContainerIfName} {target.IP} in {targetLabel}";
            }
            var request = new TraceRequest(protocol, destination, sourceNetns, sourceLabel, targetNetns, targetLabel,
                TimeSpan.FromSeconds(Math.Clamp(p.GetValue(timeout), 0.1, 30)));
            using var interrupted = new CancellationTokenSource();
            // Ctrl-C ends the probe, and the trace tables are still removed on the way out.
            using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; interrupted.Cancel(); });
            using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; interrupted.Cancel(); });
            var result = PacketTrace.Run(request, interrupted.Token);
            Console.Write(PacketTrace.Describe(request, result, crossing));
            return 0;
        });
        return trace;
    }
}
