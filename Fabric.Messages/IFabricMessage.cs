namespace Fabric.Messages; public interface IFabricMessage { }
