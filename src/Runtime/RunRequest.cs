using MiniDocker.Linux;
namespace MiniDocker.Runtime;

/// <summary>What the user asked `run` for, before the image's defaults are applied.</summary>
public sealed record RunRequest
{
    public string Image { get; init; } = "";
    public List<string> Command { get; init; } = new();
    public string? Name { get; init; }
    public string? Hostname { get; init; }
    public List<string> Env { get; init; } = new();
    public List<string> EnvFiles { get; init; } = new();
    public string? WorkingDir { get; init; }
    public string? Entrypoint { get; init; }
    public bool Tty { get; init; }
    public bool Interactive { get; init; }
    public bool Detach { get; init; }
    public bool AutoRemove { get; init; }
    public string NetworkMode { get; init; } = "none";
    public string? Ip { get; init; }
    public List<string> Publish { get; init; } = new();
    /// <summary>More networks, `--network-alias`, `--dns*`, `--add-host`.</summary>
    public ContainerNetworkOptions? NetworkOptions { get; init; }
    /// <summary>`--restart`: no, on-failure[:N] or always.</summary>
    public string? Restart { get; init; }
    public List<string> CapAdd { get; init; } = new();
    public List<string> CapDrop { get; init; } = new();
    public bool Privileged { get; init; }
    public string? User { get; init; }
    public List<string> GroupAdd { get; init; } = new();
    /// <summary>`--device HOST[:CONTAINER][:PERMS]`, as given.</summary>
    public List<string> Devices { get; init; } = new();
    /// <summary>`--security-opt`: seccomp=PROFILE|unconfined, no-new-privileges.</summary>
    public List<string> SecurityOpt { get; init; } = new();
    /// <summary>-m, --cpus, --pids-limit, --ulimit... as typed.</summary>
    public Cgroups.ResourceRequest Resources { get; init; } = new();
    /// <summary>-v/--volume, --mount and --tmpfs, as given.</summary>
    public List<string> Volumes { get; init; } = new();
    public List<string> Mounts { get; init; } = new();
    public List<string> Tmpfs { get; init; } = new();
    public bool ReadOnly { get; init; }
    public bool Init { get; init; }
    /// <summary>`--userns`: host (default), auto, auto:size=N.</summary>
    public string? Userns { get; init; }
}

/// <summary>The parts of an image that shape a container (the Images subsystem's record, mapped by the caller).</summary>
public sealed record ImageDefaults(string Id, string RootfsPath, IReadOnlyList<string> Cmd,
    IReadOnlyList<string> Entrypoint, IReadOnlyList<string> Env, string? WorkingDir,
    IReadOnlyList<string>? LowerDirs = null, string? User = null, string? StopSignal = null,
    IReadOnlyList<string>? Volumes = null);

/// <summary>Docker's rules for turning a request and an image into a container's configuration.</summary>
public static partial class ContainerConfigFactory
{
    [System.Text.RegularExpressions.GeneratedRegex(@"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$")]
    private static partial System.Text.RegularExpressions.Regex HostnamePattern();

    public const string DefaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

    public static ContainerConfig Create(RunRequest request, ImageDefaults image, Func<string, string?> hostEnv)
    {
        string id = ContainerStore.NewId();
        var entrypoint = request.Entrypoint is null ? image.Entrypoint.ToList()
                       : request.Entrypoint.Length == 0 ? new List<string>() : [request.Entrypoint];
        // As in Docker, an explicit --entrypoint drops the image's CMD.
        var cmd = request.Command.Count > 0 ? request.Command
                : request.Entrypoint is null ? image.Cmd.ToList() : new List<string>();
        var args = entrypoint.Concat(cmd).ToList();
        if (args.Count == 0)
            throw new ContainerException("no command specified: give one after the image name (the image has no CMD)");

        string workingDir = request.WorkingDir ?? image.WorkingDir ?? "/";
        if (workingDir.Length == 0) workingDir = "/";
        if (!workingDir.StartsWith('/'))
            throw new ContainerException($"the working directory '{workingDir}' is invalid, it needs to be an absolute path");

        var restart = RestartPolicy.Parse(request.Restart);
        if (restart.Name != RestartPolicy.No && request.AutoRemove)
            throw new ContainerException("conflicting options: cannot specify both --restart and --rm");

        string hostname = request.Hostname ?? id[..12];
        // It is written into the container's /etc/hosts and hostname: a newline there would add lines of the user's.
        if (!HostnamePattern().IsMatch(hostname) || hostname.Length > 253)
            throw new ContainerException($"invalid hostname \"{hostname.ReplaceLineEndings("\\n")}\": use letters, digits, '-' and '.' (RFC 1123), at most 63 per label");
        var capabilities = Capabilities.Resolve(request.CapAdd, request.CapDrop, request.Privileged);
        // The filter's capability rules follow the set the program gets; --privileged runs without one (Docker).
        var security = Security.SecurityOptions.Build(request.SecurityOpt, capabilities, request.Privileged);
        var mounts = Volumes.MountParser.ParseAll(request.Volumes, request.Mounts, request.Tmpfs, Environment.CurrentDirectory);
        mounts.AddRange(ImageVolumes(image.Volumes ?? [], mounts));
        if (request.Init && !File.Exists(Init.UserMounts.TiniStatic))
            throw new ContainerException($"--init needs {Init.UserMounts.TiniStatic}: install Debian's tini package (apt-get install tini)");
        var (usernsMode, usernsSize) = Userns.UsernsOption.Parse(request.Userns, request.Privileged, request.NetworkMode);
        return new ContainerConfig
        {
            Id = id,
            Name = request.Name ?? "",
            Image = request.Image,
            ImageId = image.Id,
            RootfsLower = image.RootfsPath,
            RootfsLowers = image.LowerDirs is { Count: > 0 } lowers ? lowers.ToList() : null,
            StopSignal = image.StopSignal,
            Args = args,
            Env = BuildEnv(image.Env, UserEnv(request, hostEnv), hostname, request.Tty),
            WorkingDir = workingDir,
            Hostname = hostname,
            Tty = request.Tty,
            Interactive = request.Interactive,
            Detach = request.Detach,
            AutoRemove = request.AutoRemove,
            NetworkMode = request.NetworkMode,
            RequestedIp = request.Ip,
            Publish = request.Publish,
            NetworkOptions = request.NetworkOptions,
            RestartPolicy = restart,
            Devices = request.Devices.Select(Cgroups.DeviceNumbers.Parse).ToList(),
            Security = security,
            Created = DateTimeOffset.UtcNow,
            Capabilities = capabilities,
            Privileged = request.Privileged,
            User = string.IsNullOrEmpty(request.User) ? (string.IsNullOrEmpty(image.User) ? null : image.User) : request.User,
            GroupAdd = request.GroupAdd,
            Resources = Cgroups.ResourceLimits.Build(request.Resources),
            Ulimits = Cgroups.ResourceLimits.ParseUlimits(request.Resources.Ulimits),
            Mounts = mounts,
            ReadOnlyRootfs = request.ReadOnly,
            Init = request.Init,
            UsernsMode = usernsMode,
            UsernsSize = usernsSize,
        };
    }

    /// <summary>The image's VOLUME paths that no -v/--mount/--tmpfs of the user already covers: an anonymous volume each,
    /// filled from the image's files there on first use, and removed by `rm -v` and `--rm` (as Docker).</summary>
    private static List<Volumes.MountSpec> ImageVolumes(IReadOnlyList<string> paths, IReadOnlyList<Volumes.MountSpec> userMounts)
    {
        static string Normal(string p) => "/" + string.Join('/', p.Split('/', StringSplitOptions.RemoveEmptyEntries));
        var taken = userMounts.Select(m => Normal(m.Target)).ToHashSet(StringComparer.Ordinal);
        // Not through -v's parser: an image's "/x:/etc" must never read as a bind of the host's /x.
        return paths.Where(p => !taken.Contains(Normal(p))).Select(Normal).Distinct()
            .Select(p => new Volumes.MountSpec
            {
                Type = Volumes.MountType.Volume,
                Anonymous = true,
                Target = Volumes.MountParser.CheckDestination(p, Volumes.MountType.Volume,
                    why => new ContainerException($"the image's volume '{p}' is invalid: {why}")),
            }).ToList();
    }

    /// <summary>--env-file first, then -e, in order; `-e NAME` without a value takes the host's NAME if it is set.</summary>
    public static List<string> UserEnv(RunRequest request, Func<string, string?> hostEnv)
    {
        var result = new List<string>();
        foreach (var file in request.EnvFiles)
        {
            // Docker reads it line by line with a 64 KiB line limit; a bound on the whole file keeps /dev/zero out.
            byte[] content;
            try { content = BoundedFile.Read(file, 16 << 20, file) ?? throw new ContainerException($"open {file}: no such file or directory"); }
            catch (MiniDockerException e) when (e is not ContainerException) { throw new ContainerException($"--env-file: {e.Message}"); }
            foreach (var raw in System.Text.Encoding.UTF8.GetString(content).Split('\n'))
            {
                string line = raw.TrimEnd('\r').TrimStart();
                if (line.Length == 0 || line.StartsWith('#')) continue;
                AddEnv(result, line, hostEnv);
            }
        }
        foreach (var e in request.Env) AddEnv(result, e, hostEnv);
        return result;
    }

    private static void AddEnv(List<string> result, string entry, Func<string, string?> hostEnv)
    {
        int eq = entry.IndexOf('=');
        if (eq == 0) throw new ContainerException($"invalid environment variable: {entry}");
        if (eq > 0) { result.Add(entry); return; }
        if (hostEnv(entry) is string v) result.Add($"{entry}={v}");
    }

    /// <summary>Defaults, then the image's, then the user's; a later value for a name replaces the earlier one in
    /// place.</summary>
    public static List<string> BuildEnv(IEnumerable<string> imageEnv, IEnumerable<string> userEnv, string hostname, bool tty)
    {
        var order = new List<string>();
        var values = new Dictionary<string, string>();
        void Set(string entry)
        {
            int eq = entry.IndexOf('=');
            string key = eq < 0 ? entry : entry[..eq];
            if (!values.ContainsKey(key)) order.Add(key);
            values[key] = entry;
        }
        Set(DefaultPath);
        Set("HOSTNAME=" + hostname);
        foreach (var e in imageEnv) Set(e);
        foreach (var e in userEnv) Set(e);
        if (tty && !values.ContainsKey("TERM")) Set("TERM=xterm");
        if (!values.ContainsKey("HOME")) Set("HOME=/root");
        return order.Select(k => values[k]).ToList();
    }
}
