using System.CommandLine;
using MiniDocker.Images;
using MiniDocker.Runtime;

namespace MiniDocker.Cli.Commands;

/// <summary>`minidocker run [OPTIONS] IMAGE [COMMAND [ARG...]]`</summary>
public static class RunCommand
{
    private static readonly Option<bool> Interactive = new("--interactive", "-i") { Description = "Keep STDIN open" };
    private static readonly Option<bool> Tty = new("--tty", "-t") { Description = "Allocate a pseudo-TTY" };
    private static readonly Option<bool> Detach = new("--detach", "-d") { Description = "Run in the background and print the container ID" };
    private static readonly Option<bool> Remove = new("--rm") { Description = "Remove the container when it exits" };
    private static readonly Option<string?> Name = new("--name") { Description = "Assign a name to the container" };
    private static readonly Option<string?> Hostname = new("--hostname", "-h") { Description = "Container host name" };
    private static readonly Option<string[]> Env = new("--env", "-e") { Description = "Set environment variables (K=V)" };
    private static readonly Option<string[]> EnvFile = new("--env-file") { Description = "Read in a file of environment variables" };
    private static readonly Option<string?> Workdir = new("--workdir", "-w") { Description = "Working directory inside the container" };
    private static readonly Option<string?> Entrypoint = new("--entrypoint") { Description = "Overwrite the image's ENTRYPOINT" };
    private static readonly Option<string[]> Network = new("--network", "--net", "-net")
    { Description = "Connect to a network: a network name, \"bridge\" (default), \"none\" or \"host\"; repeat for more networks" };
    private static readonly Option<string?> Ip = new("--ip") { Description = "IPv4 address on the network" };
    private static readonly Option<string[]> Publish = new("--publish", "-p") { Description = "Publish a port: [IP:][HOST:]CTR[/PROTO]" };
    private static readonly Option<bool> PublishAll = new("--publish-all", "-P") { Description = "Publish every port the image exposes on a free host port" };
    private static readonly Option<string?> Restart = new("--restart")
    { Description = "Restart policy of a detached container: no, on-failure[:max-retries] or always" };
    private static readonly Option<string[]> CapAdd = new("--cap-add") { Description = "Add Linux capabilities (NET_ADMIN, ALL...)" };
    private static readonly Option<string[]> CapDrop = new("--cap-drop") { Description = "Drop Linux capabilities" };
    private static readonly Option<bool> Privileged = new("--privileged")
    { Description = "Give extended privileges: every capability, unmasked /proc, writable /sys" };
    private static readonly Option<string[]> SecurityOpt = new("--security-opt")
    { Description = "Security options: seccomp=PROFILE.json|unconfined, no-new-privileges[:true|false]" };
    private static readonly Option<string?> User = new("--user", "-u") { Description = "Username or UID (format: <name|uid>[:<group|gid>])" };
    private static readonly Option<string[]> GroupAdd = new("--group-add") { Description = "Add additional groups to join" };
    private static readonly Option<string[]> Device = new("--device")
    { Description = "Add a host device to the container: HOST[:CONTAINER][:PERMS] (PERMS: r, w, m; default rwm)" };
    private static readonly ResourceOptions Resources = ResourceOptions.ForRun();
    private static readonly Option<string[]> Volume = new("--volume", "-v") { Description = "Bind mount a volume: [HOST-DIR|NAME:]CONTAINER-DIR[:ro|rw]" };
    private static readonly Option<string[]> Mount = new("--mount")
    { Description = "Attach a filesystem mount: type=bind|volume|tmpfs,source=,target=[,readonly][,tmpfs-size=][,tmpfs-mode=]" };
    private static readonly Option<string[]> Tmpfs = new("--tmpfs") { Description = "Mount a tmpfs directory: /PATH[:OPTIONS]" };
    private static readonly Option<bool> ReadOnly = new("--read-only") { Description = "Mount the container's root filesystem as read only" };
    private static readonly Option<bool> Init = new("--init") { Description = "Run an init (tini) inside the container that forwards signals and reaps processes" };
    private static readonly Option<string?> Userns = new("--userns")
    { Description = "User namespace: host (default), auto (the container's root is an unprivileged host id range), auto:size=N" };
    private static readonly RunNetworkOptions NetOptions = new();
    private static readonly Argument<string> Image = new("IMAGE");
    private static readonly Argument<string[]> CommandArgs = new("COMMAND") { Arity = ArgumentArity.ZeroOrMore };

    public static Command Create()
    {
        var command = new Command("run", "Create and run a new container from an image")
        {
            Interactive, Tty, Detach, Remove, Name, Hostname, Env, EnvFile, Workdir, Entrypoint, Network, Ip, Publish, PublishAll,
            Restart, CapAdd, CapDrop, Privileged, SecurityOpt, User, GroupAdd, Device, Volume, Mount, Tmpfs, ReadOnly, Init, PullPolicy.Option,
            Userns, Image, CommandArgs,
        };
        foreach (var option in Resources.All) command.Options.Add(option);
        NetOptions.AddTo(command);
        // Docker also accepts the bundles -it and -ti; System.CommandLine bundles boolean short options by itself.
        command.SetAction(Handle);
        return command;
    }

    /// <summary>What the user asked for, as the runtime takes it.</summary>
    private static RunRequest Request(ParseResult p, string networkMode, ContainerNetworkOptions networkOptions,
        IReadOnlyList<string> publish) =>
        new()
        {
            Image = p.GetValue(Image)!,
            Command = (p.GetValue(CommandArgs) ?? []).ToList(),
            Name = p.GetValue(Name),
            Hostname = p.GetValue(Hostname),
            Env = (p.GetValue(Env) ?? []).ToList(),
            EnvFiles = (p.GetValue(EnvFile) ?? []).ToList(),
            WorkingDir = p.GetValue(Workdir),
            Entrypoint = p.GetValue(Entrypoint),
            Tty = p.GetValue(Tty),
            Interactive = p.GetValue(Interactive),
            Detach = p.GetValue(Detach),
            AutoRemove = p.GetValue(Remove),
            NetworkMode = networkMode,
            Ip = p.GetValue(Ip),
            Publish = publish.ToList(),
            NetworkOptions = networkOptions,
            Restart = p.GetValue(Restart),
            CapAdd = (p.GetValue(CapAdd) ?? []).ToList(),
            CapDrop = (p.GetValue(CapDrop) ?? []).ToList(),
            Privileged = p.GetValue(Privileged),
            SecurityOpt = (p.GetValue(SecurityOpt) ?? []).ToList(),
            User = p.GetValue(User),
            GroupAdd = (p.GetValue(GroupAdd) ?? []).ToList(),
            Devices = (p.GetValue(Device) ?? []).ToList(),
            Resources = Resources.Request(p),
            Volumes = (p.GetValue(Volume) ?? []).ToList(),
            Mounts = (p.GetValue(Mount) ?? []).ToList(),
            Tmpfs = (p.GetValue(Tmpfs) ?? []).ToList(),
            ReadOnly = p.GetValue(ReadOnly),
            Init = p.GetValue(Init),
            Userns = p.GetValue(Userns),
        };

    /// <summary>Every check that needs no image, done with a stand-in image that has a command (so only the flags
    /// can fail); nothing is printed or recorded.</summary>
    private static void CheckBeforePull(ParseResult p, string networkMode, ContainerNetworkOptions networkOptions)
    {
        var publish = NetworkSettings.CheckRun(networkMode, p.GetValue(Ip), p.GetValue(Publish) ?? [], TextWriter.Null);
        var standIn = new ImageDefaults("", "/", ["true"], [], [], null);
        var config = ContainerConfigFactory.Create(Request(p, networkMode, networkOptions, publish), standIn, Environment.GetEnvironmentVariable);
        MiniDocker.Runtime.Cgroups.ResourceLimits.CheckAvailable(config.Resources);
    }

    /// <summary>-p as given, plus with -P each exposed port ("80/tcp") that no -p already maps, on a free host port.</summary>
    private static List<string> PortsToPublish(string[] explicitSpecs, string[] exposed)
    {
        var mapped = MiniDocker.Network.PortSpec.ParseAll(explicitSpecs).Select(m => $"{m.ContainerPort}/{m.Protocol}").ToHashSet();
        return explicitSpecs.Concat(exposed.Where(e => !mapped.Contains(e))).ToList();
    }

    private static int Handle(ParseResult p)
    {
        string root = Globals.StateRoot(p);
        string reference = p.GetValue(Image)!;
        var (networkMode, networkOptions) = NetOptions.Read(p, p.GetValue(Network) ?? []);
        // As Docker, the flags are checked before an image is pulled: a bad flag costs no download (and no registry
        // round trip). What depends on the image is checked again below, with the image.
        var pullPolicy = PullPolicy.Of(p);
        if (pullPolicy == PullPolicy.Always || new ImageStore(root).TryResolve(reference) is null) CheckBeforePull(p, networkMode, networkOptions);
        var image = PullPolicy.Resolve(p, reference, pullPolicy);
        // Checked here, not only in the network hook: a detached run's hook runs in the monitor, whose stderr is
        // /dev/null, and the host-mode warning must reach the user.
        var publish = NetworkSettings.CheckRun(networkMode, p.GetValue(Ip),
            PortsToPublish(p.GetValue(Publish) ?? [], p.GetValue(PublishAll) ? image.Config.ExposedPorts : []), Console.Error);
        CrashedPortHolders.Release(p, root, publish);
        var request = Request(p, networkMode, networkOptions, RunNetworkOptions.PublishOn(p, networkMode, publish));
        var images = new ImageStore(root);
        if (image.Config.StopSignal is { } stopSignal) Signals.Parse(stopSignal); // Docker refuses an invalid one at create
        var lowers = images.LowerDirs(image);
        var defaults = new ImageDefaults(image.Id, lowers[0], image.Config.Cmd,
            image.Config.Entrypoint, image.Config.Env, image.Config.WorkingDir,
            lowers.Count > 1 || images.LayerDiffIds(image) is not null ? lowers : null, image.Config.User, image.Config.StopSignal,
            image.Config.Volumes);
        var config = ContainerConfigFactory.Create(request, defaults, Environment.GetEnvironmentVariable);
        MiniDocker.Runtime.Cgroups.ResourceLimits.CheckAvailable(config.Resources);

        var store = new ContainerStore(root);
        var volumes = new MiniDocker.Runtime.Volumes.VolumeStore(root);
        // Under the volume lock until the container is recorded: `volume rm` then sees it as a user of its volumes.
        using (config.Mounts.Count > 0 ? volumes.Lock() : null)
        {
            volumes.PrepareLocked(config);
            store.Create(config);
        }
        Linux.FailPoint.Check("run.state-created");
        if (config.Detach)
        {
            ContainerMonitor.StartDetached(root, config);
            Console.WriteLine(config.Id);
            return 0;
        }
        int code;
        try
        {
            code = Foreground.Run(new Launcher(store, Globals.Hooks(p)), config);
        }
        catch (ContainerException)
        {
            store.Delete(config.Id); // a container that never started is not left behind
            MiniDocker.Runtime.Volumes.VolumeStore.RemoveAnonymousOf(store, config);
            throw;
        }
        if (config.AutoRemove)
        {
            store.Delete(config.Id);
            MiniDocker.Runtime.Volumes.VolumeStore.RemoveAnonymousOf(store, config); // Docker's --rm takes them too
        }
        return code;
    }
}
