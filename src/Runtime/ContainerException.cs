using MiniDocker.Linux;

namespace MiniDocker.Runtime;

/// <summary>A user-facing failure of the runtime: a one-line message and the exit code Docker would give.</summary>
public class ContainerException(string message, int exitCode = ExitCodes.RuntimeError, Exception? inner = null)
    : MiniDockerException(message, exitCode, inner);

/// <summary>No container has this name, id or id prefix (Docker: exit status 1 for the multi-container verbs).</summary>
public sealed class NoSuchContainerException(string reference) : ContainerException($"no such container: {reference}", 1)
{
    public string Reference { get; } = reference;
}
