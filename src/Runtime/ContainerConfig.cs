using System.Text.Json.Serialization;

namespace MiniDocker.Runtime;

/// <summary>What a container is: fixed at creation, stored as config.json in its directory.</summary>
public sealed class ContainerConfig
{
    public int SchemaVersion { get; set; } = 1;
    public string Id { get; set; } = "";
    public string Name { get; set; } = "";
    public string Image { get; set; } = "";
    public string ImageId { get; set; } = "";
    /// <summary>Read-only image root filesystem: the overlay's lowerdir.</summary>
    public string RootfsLower { get; set; } = "";
    /// <summary>A layered image's overlay lowerdirs, top-most first (RootfsLower is then the top one); null or empty:
    /// RootfsLower alone (an imported image, or a config written before layers existed).</summary>
    public List<string>? RootfsLowers { get; set; }
    /// <summary>The image's StopSignal (Docker's STOPSIGNAL): what `stop` sends first; null: SIGTERM.</summary>
    public string? StopSignal { get; set; }
    public List<string> Args { get; set; } = new();
    public List<string> Env { get; set; } = new();
    public string WorkingDir { get; set; } = "/";
    public string Hostname { get; set; } = "";
    public bool Tty { get; set; }
    public bool Interactive { get; set; }
    public bool Detach { get; set; }
    public bool AutoRemove { get; set; }
    /// <summary>"none", "host", or the name of a network.</summary>
    public string NetworkMode { get; set; } = "none";
    public string? RequestedIp { get; set; }
    public List<string> Publish { get; set; } = new();
    /// <summary>More networks, aliases, DNS and /etc/hosts entries; null in a config written before they existed.</summary>
    public ContainerNetworkOptions? NetworkOptions { get; set; }
    public RestartPolicy RestartPolicy { get; set; } = new();
    /// <summary>`--device`s: made in the container's /dev and allowed by its device cgroup.</summary>
    public List<Cgroups.DeviceMapping> Devices { get; set; } = new();
    /// <summary>Seccomp filter and no_new_privs (--security-opt); a config from before has none: unconfined.</summary>
    public Security.SecurityConfig Security { get; set; } = new();
    public DateTimeOffset Created { get; set; }
    /// <summary>The bounding set the program gets (Docker's names); null in a config written before it existed,
    /// which means Docker's default set.</summary>
    public List<string>? Capabilities { get; set; }
    /// <summary>--privileged: every capability, no masked /proc paths (and, as they come, every device and no seccomp).</summary>
    public bool Privileged { get; set; }
    /// <summary>-u USER[:GROUP] for the program, resolved in the container's /etc/passwd and /etc/group.</summary>
    public string? User { get; set; }
    /// <summary>--group-add: more supplementary groups (names or numbers).</summary>
    public List<string> GroupAdd { get; set; } = new();
    /// <summary>Memory, CPU and pids limits of its cgroup (`update` changes them).</summary>
    public Cgroups.CgroupResources Resources { get; set; } = new();
    /// <summary>--ulimit: set by the init before the program runs.</summary>
    public List<Cgroups.Ulimit> Ulimits { get; set; } = new();
    /// <summary>-v, --mount and --tmpfs, with volumes and bind sources resolved by VolumeStore.PrepareLocked.</summary>
    public List<Volumes.MountSpec> Mounts { get; set; } = new();
    /// <summary>--read-only: the root is remounted read-only; volumes, tmpfs, /dev and the /etc files stay writable.</summary>
    public bool ReadOnlyRootfs { get; set; }
    /// <summary>--init: tini (bind-mounted read-only at /sbin/docker-init) is PID 1 and runs <see cref="Args"/>.</summary>
    public bool Init { get; set; }
    /// <summary>--userns: null or "host" (the host's ids), "auto" (a range of its own from /etc/subuid and /etc/subgid,
    /// see Userns.IdRanges), with <see cref="UsernsSize"/> ids.</summary>
    public string? UsernsMode { get; set; }
    public int UsernsSize { get; set; }

    [JsonIgnore] public bool OwnUserns => UsernsMode is not null && UsernsMode.StartsWith("auto", StringComparison.Ordinal);

    [JsonIgnore] public IReadOnlyList<string> EffectiveCapabilities => Capabilities ?? MiniDocker.Runtime.Capabilities.Default;

    [JsonIgnore] public string ShortId => Id.Length > 12 ? Id[..12] : Id;
}

/// <summary>Restarting: between an exit and the restart policy's next start.</summary>
public enum ContainerStatus { Created, Running, Restarting, Exited }

/// <summary>What a container is doing: rewritten over its life, stored as state.json.</summary>
public sealed class ContainerState
{
    public int SchemaVersion { get; set; } = 1;
    [JsonConverter(typeof(JsonStringEnumConverter<ContainerStatus>))]
    public ContainerStatus Status { get; set; }
    public int Pid { get; set; }
    /// <summary>The pid's start time (clock ticks after boot, /proc/PID/stat field 22): tells the container's
    /// process from an unrelated one that got the same pid after a reboot or a crash.</summary>
    public ulong PidStartTime { get; set; }
    public int MonitorPid { get; set; }
    public int ExitCode { get; set; }
    public DateTimeOffset? StartedAt { get; set; }
    public DateTimeOffset? FinishedAt { get; set; }
    public string? Error { get; set; }
    public int RestartCount { get; set; }
    /// <summary>stop, kill or rm asked the container to end: its restart policy must not bring it back, and a start
    /// still in progress gives up (Docker's HasBeenManuallyStopped).</summary>
    public bool StopRequested { get; set; }
    /// <summary>The hooks' Created may have run and their Stopped has not: set before the hooks run, cleared after the
    /// undo. A crash leaves it set, so whoever recovers the container knows to undo (veth, rules, address).</summary>
    public bool CleanupPending { get; set; }
    /// <summary>The kernel's OOM killer killed a process of the container's last run (read from its memory cgroup
    /// when it ended).</summary>
    public bool OomKilled { get; set; }
    /// <summary>--userns=auto: the host ids the container's 0.. map to, allocated at its first start and kept until
    /// rm (its upper directory's files are owned by them).</summary>
    public Userns.IdMapping? IdMapping { get; set; }
}

[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(ContainerConfig))]
[JsonSerializable(typeof(ContainerState))]
[JsonSerializable(typeof(ExecSpec))]
[JsonSerializable(typeof(List<Userns.IdAllocation>))]
internal sealed partial class RuntimeJson : JsonSerializerContext;
