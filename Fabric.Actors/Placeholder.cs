namespace Fabric.Actors; internal static class Placeholder { }
