namespace MiniDocker.Runtime;

/// <summary>
/// The one place host-side subsystems (networking, later cgroups) join a container's life: after its namespaces
/// exist and before its program starts. The runtime knows nothing about what a hook does.
/// </summary>
public interface IContainerHook
{
    /// <summary>The container's namespaces exist (at /proc/PID/ns/*) and its program has not started.
    /// Throwing aborts the run: hooks already called get <see cref="Stopped"/>, in reverse order.</summary>
    void Created(ContainerContext context);

    /// <summary>Undoes <see cref="Created"/>. Called when the container ends, when a later step failed, and by
    /// crash recovery (with Pid 0, the process being gone), so it must be idempotent and tolerate half-done work.</summary>
    void Stopped(ContainerContext context);
}

public sealed record ContainerContext(ContainerConfig Config, string Directory, int Pid)
{
    public string NetworkNamespacePath => $"/proc/{Pid}/ns/net";
    /// <summary>Files bind-mounted at /etc/hosts and /etc/resolv.conf: rewrite them in place (same inode), never
    /// by rename, or the container keeps seeing the old file.</summary>
    public string HostsPath => Path.Combine(Directory, "hosts");
    public string HostnamePath => Path.Combine(Directory, "hostname");
    public string ResolvConfPath => Path.Combine(Directory, "resolv.conf");
}
