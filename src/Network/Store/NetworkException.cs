namespace MiniDocker.Network;

/// <summary>
/// A network operation that cannot be done as asked. The message is one line meant for the user of the CLI
/// (e.g. "network with name web already exists") and names what is wrong.
/// </summary>
public class NetworkException : MiniDocker.Linux.MiniDockerException
{
    public NetworkException(string message) : base(message) { }
    public NetworkException(string message, Exception inner) : base(message, inner: inner) { }
}

