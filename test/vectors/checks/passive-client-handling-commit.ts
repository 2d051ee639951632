import { passiveClientCheck } from "./passive-client.js";

export default passiveClientCheck("passive-client-handling-commit.json");
