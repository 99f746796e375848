namespace MiniDocker.Images;

/// <summary>
/// The one error type of the image store. Its message is a single line meant for the user,
/// naming what failed and on which object (e.g. <c>mkdirat 'usr/bin': No space left on device</c>).
/// </summary>
public sealed class ImageException : MiniDocker.Linux.MiniDockerException
{
    public ImageException(string message) : base(message) { }

    public ImageException(string message, Exception inner) : base(message, inner: inner) { }
}
