using MiniDocker.Network;
using MiniDocker.Runtime;

namespace MiniDocker.Cli;

/// <summary>Where `run` wires the network subsystem into the runtime: at "created, not yet started".</summary>
public sealed class NetworkHook(NetworkManager networks) : IContainerHook
{
    public void Created(ContainerContext context)
    {
        var config = context.Config;
        // Checked here too, not only by `run` before it records the container: `start` of a container recorded by an
        // older version comes this way. The warning reaches the user when the hook runs in the CLI (a foreground run).
        var publish = NetworkSettings.CheckRun(config.NetworkMode, config.RequestedIp, config.Publish, Console.Error);
        switch (config.NetworkMode)
        {
            case "host":
                return;
            case "none":
                networks.LoopbackOnly(context.NetworkNamespacePath);
                return;
        }
        var attachment = networks.Connect(config.Id, config.NetworkMode, context.NetworkNamespacePath, config.RequestedIp, publish);
        // In place (same inode): the file is already bind-mounted at the container's /etc/hosts.
        File.AppendAllText(context.HostsPath, $"{attachment.Endpoint.IP}\t{config.Hostname}\n");
    }

    public void Stopped(ContainerContext context)
    {
        if (context.Config.NetworkMode is "host" or "none") return;
        // Pid 0: called by recovery or `rm` for a container whose process is not ours to have reaped; delete the veth
        // explicitly there. Otherwise the runtime reaped PID 1 and the namespace dies with it.
        networks.Disconnect(context.Config.Id, namespaceGone: context.Pid != 0);
    }
}
