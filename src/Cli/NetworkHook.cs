using System.Net;
using MiniDocker.Network;
using MiniDocker.Runtime;

namespace MiniDocker.Cli;

/// <summary>Where `run` wires the network subsystem into the runtime: at "created, not yet started".</summary>
public sealed class NetworkHook(NetworkManager networks) : IContainerHook
{
    public void Created(ContainerContext context)
    {
        var config = context.Config;
        var options = config.NetworkOptions ?? new ContainerNetworkOptions();
        NameResolution.Validate(options);
        // Checked here too, not only by `run` before it records the container: `start` of a container recorded by an
        // older version comes this way. The warning reaches the user when the hook runs in the CLI (a foreground run).
        var publish = NetworkSettings.CheckRun(config.NetworkMode, config.RequestedIp, config.Publish, Console.Error);
        IPAddress? gateway = null, nameServer = null;
        switch (config.NetworkMode)
        {
            case "host":
            case "none": // lo: the init brings it up in its own namespace
                break;
            default:
                // The first network: eth0, the default route, the published ports and the container's /etc/hosts line.
                var first = networks.Connect(config.Id, config.NetworkMode, context.NetworkNamespacePath, config.RequestedIp, publish,
                    config.Name, AliasesOn(config.NetworkMode, options), "eth0", requestedIp6: options.RequestedIp6);
                gateway = first.Network.Gateway;
                var attachments = new List<Attachment> { first };
                foreach (string extra in options.ExtraNetworks)
                    attachments.Add(networks.Connect(config.Id, extra, context.NetworkNamespacePath, null, [], config.Name,
                        AliasesOn(extra, options), containerIfName: null, defaultRoute: false));
                // In place (same inode): the file is already bind-mounted at the container's /etc/hosts.
                File.AppendAllText(context.HostsPath, $"{first.Endpoint.IP}\t{config.Hostname}\n");
                if (AardvarkDns.Binary is not null && attachments.FirstOrDefault(a => a.Network.HasDns) is { } named)
                    nameServer = named.Network.Gateway;
                break;
        }
        if (options.ExtraHosts.Count > 0) File.AppendAllText(context.HostsPath, NameResolution.HostsLines(options, gateway));
        if (nameServer is not null || options.Dns.Count + options.DnsSearch.Count + options.DnsOptions.Count > 0)
        {
            string host = File.Exists("/etc/resolv.conf") ? File.ReadAllText("/etc/resolv.conf") : "";
            // Truncated and rewritten in place, like the hosts file.
            File.WriteAllText(context.ResolvConfPath, NameResolution.ResolvConf(host, nameServer, options));
        }
    }

    /// <summary>`--network-alias` applies on user networks; Docker refuses it on the default one, which has no names.</summary>
    private static IReadOnlyList<string> AliasesOn(string network, ContainerNetworkOptions options) =>
        network == NetworkStore.DefaultNetworkName ? [] : options.Aliases;

    public void Stopped(ContainerContext context)
    {
        if (context.Config.NetworkMode is "host" or "none") return;
        // Pid 0: called by recovery or `rm` for a container whose process is not ours to have reaped; delete the veth
        // explicitly there. Otherwise the runtime reaped PID 1 and the namespace dies with it.
        networks.Disconnect(context.Config.Id, namespaceGone: context.Pid != 0);
    }
}
