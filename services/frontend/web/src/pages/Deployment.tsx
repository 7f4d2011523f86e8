import { useParams } from "react-router";
import { Empty, useTitle } from "../components/common";

/** `/o/{workspace}/host/deployments/{id}`, the link `langgraph deploy` prints. */
export function Deployment() {
  const { deploymentId = "" } = useParams();
  useTitle("Deployment");
  return (
    <div className="page">
      <header className="page-head"><h1>Deployment</h1></header>
      <p className="mono small">{deploymentId}</p>
      <Empty>This stack does not run deployments yet: the deployment control plane is not part of this release.</Empty>
    </div>
  );
}
